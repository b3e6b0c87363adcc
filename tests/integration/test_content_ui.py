"""A kiosk with its screen takes a verified content update: the UI swaps to the new bundle,
confirms it after showing it, and the rollout counts the kiosk healthy."""

from __future__ import annotations

import dataclasses
import re
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from beacon.system import CONTENT_CHANNEL, SAMPLE_BUNDLE
from content.build import build_bundle
from content_repo.keys import key_path, load_signer
from content_repo.repository import publish_bundle
from fleet_manager.rollouts import plan
from fleet_manager.rollouts import service as rollouts
from protocol.content_delivery import RolloutScope
from tests.support.live import TEST_PLAN, LiveSystem
from tests.support.ui_kiosk import UiKiosk
from tests.support.waiting import wait_until
from tests.support.xvfb import VirtualDisplay

NEW_VERSION = "2026.12.3"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveSystem]:
    system = LiveSystem(
        tmp_path / "system", dataclasses.replace(TEST_PLAN, content_repository=True)
    )
    try:
        system.running.start_brokers()
        system.running.start_fleet_managers()
        system.running.start_api()
        yield system
    finally:
        system.stop()


def test_the_screen_shows_a_rolled_out_bundle_and_confirms_it(
    live: LiveSystem, tmp_path: Path
) -> None:
    display = VirtualDisplay()
    kiosk: UiKiosk | None = None
    try:
        kiosk = UiKiosk(live, display, "kiosk-a1", (800, 480))
        first = load_version(SAMPLE_BUNDLE)
        wait_until(lambda: kiosk is not None and kiosk.ui()["content"] == first, 60, "first")

        source = tmp_path / "bundle"
        shutil.copytree(SAMPLE_BUNDLE, source)
        manifest = source / "manifest.toml"
        manifest.write_text(
            re.sub(r'(?m)^version = ".*"$', f'version = "{NEW_VERSION}"', manifest.read_text())
        )
        built = build_bundle(source, tmp_path / "dist", allowed_origins=[TEST_PLAN.qr_origin])
        keys = live.layout.base / "fleet" / "content-keys"
        passphrase = (keys / "passphrase").read_bytes()
        publish_bundle(
            live.layout.base / "fleet" / "content-repo",
            built.path,
            channel=CONTENT_CHANNEL,
            targets=load_signer(key_path(keys, "targets"), passphrase),
            snapshot=load_signer(key_path(keys, "snapshot"), None),
            timestamp=load_signer(key_path(keys, "timestamp"), None),
            now=datetime.now(UTC),
        )
        row = rollouts.start(
            live.engine,
            channel=CONTENT_CHANNEL,
            version=NEW_VERSION,
            baseline=None,
            scope=RolloutScope(devices=("kiosk-a1",)),
            waves=plan.parse_waves("all"),
            success_threshold=1.0,
            error_threshold=0.0,
            timeout_s=120,
            actor="test",
            now=time.time(),
        )
        wait_until(lambda: kiosk is not None and kiosk.ui()["content"] == NEW_VERSION, 60, "swap")
        assert kiosk.ui()["frames_drawn"] > 0

        def completed() -> bool:
            with live.engine.connect() as conn:
                found = rollouts.get(conn, row.rollout_id)
            return found is not None and found.rollout.state == "completed"

        wait_until(completed, 30, "the kiosk counted healthy")
    finally:
        if kiosk is not None:
            kiosk.stop()
        display.close()


def load_version(bundle: Path) -> str:
    match = re.search(r'(?m)^version = "(.*)"$', (bundle / "manifest.toml").read_text())
    assert match is not None
    return match.group(1)
