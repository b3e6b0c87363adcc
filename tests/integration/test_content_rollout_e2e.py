"""Content end to end with the real fleet manager, API, brokers and kiosk processes: kiosks
install the channel's signed content at start; a new version is built, published and rolled
out in waves until every kiosk runs it; a kiosk that refuses the bundle pauses the rollout."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from beacon.system import SAMPLE_BUNDLE
from device.agent.control import control_request
from device.agent.identity import load_profile, save_profile
from fleet_manager.rollouts import service as rollouts
from tests.support.live import TEST_PLAN, LiveSystem
from tests.support.waiting import wait_until

NEW_VERSION = "2026.12.1"


def beacon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beacon", *args], capture_output=True, text=True, timeout=180
    )


def content_of(system: LiveSystem, device_id: str) -> str | None:
    status = control_request(system.layout.kiosk_dirs[device_id], {"cmd": "status"})["status"]
    assert isinstance(status, dict)
    return status["content"]  # type: ignore[no-any-return]


def start(base: Path, refuse_on: str | None = None) -> LiveSystem:
    system = LiveSystem(base, dataclasses.replace(TEST_PLAN, content_repository=True))
    if refuse_on is not None:
        # This kiosk may only show QR codes for another origin: it refuses every bundle.
        state = system.layout.kiosk_dirs[refuse_on]
        profile = load_profile(state)
        save_profile(state, profile.model_copy(update={"allowed_origins": ("elsewhere.example",)}))
    system.running.start_brokers()
    system.running.start_fleet_managers()
    system.running.start_api()
    system.running.start_kiosks()
    return system


@pytest.fixture
def new_bundle(tmp_path: Path) -> Path:
    """The sample with a new version, built with the real command."""
    source = tmp_path / "bundle"
    shutil.copytree(SAMPLE_BUNDLE, source)
    manifest = source / "manifest.toml"
    text = manifest.read_text()
    manifest.write_text(
        re.sub(r'(?m)^version = ".*"$', f'version = "{NEW_VERSION}"', text, count=1)
    )
    built = beacon(
        "content", "build", str(source), "-o", str(tmp_path / "dist"),
        "--allowed-origin", TEST_PLAN.qr_origin,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return tmp_path / "dist" / f"beacon-content-{NEW_VERSION}.tar.gz"


def publish(system: LiveSystem, bundle: Path) -> None:
    fleet = system.layout.base / "fleet"
    keys = fleet / "content-keys"
    done = beacon(
        "content", "publish", str(bundle), "--channel", "stable",
        "--repo", str(fleet / "content-repo"), "--keys", str(keys),
        "--passphrase-file", str(keys / "passphrase"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def start_rollout(system: LiveSystem, *extra: str) -> str:
    started = beacon(
        "content", "rollout", "start", "--channel", "stable", "--version", NEW_VERSION,
        "--config", str(system.layout.fleet_configs[0]), "--json", *extra,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    return str(json.loads(started.stdout)["rollout_id"])


def rollout_state(system: LiveSystem, rollout_id: str) -> str:
    with system.engine.connect() as conn:
        row = rollouts.get(conn, rollout_id)
    assert row is not None
    return row.rollout.state


@pytest.fixture
def system(tmp_path: Path) -> Iterator[LiveSystem]:
    live = start(tmp_path / "system")
    try:
        yield live
    finally:
        live.stop()


def test_a_new_version_rolls_out_in_waves_to_every_kiosk(
    system: LiveSystem, new_bundle: Path
) -> None:
    kiosks = sorted(system.layout.kiosk_dirs)
    first = load_first_version()
    wait_until(lambda: all(content_of(system, k) == first for k in kiosks), 60, "initial content")
    publish(system, new_bundle)
    rollout_id = start_rollout(system, "--waves", "1,all", "--timeout", "2m")
    wait_until(
        lambda: all(content_of(system, k) == NEW_VERSION for k in kiosks), 90, "the new version"
    )
    wait_until(lambda: rollout_state(system, rollout_id) == "completed", 30, "completion")
    state = system.layout.kiosk_dirs[kiosks[0]]
    assert (state / "content" / "current").resolve().name == NEW_VERSION
    # Every kiosk report was handled (a log call once crashed on each device event).
    assert "worker_error" not in system.fleet_log()


def load_first_version() -> str:
    match = re.search(r'(?m)^version = "(.*)"$', (SAMPLE_BUNDLE / "manifest.toml").read_text())
    assert match is not None
    return match.group(1)


def test_a_kiosk_refusing_the_bundle_pauses_the_rollout(tmp_path: Path, new_bundle: Path) -> None:
    live = start(tmp_path / "system", refuse_on="kiosk-b1")
    try:
        publish(live, new_bundle)
        rollout_id = start_rollout(live, "--waves", "all", "--errors", "0.3", "--success", "0.7")
        wait_until(lambda: rollout_state(live, rollout_id) == "paused", 90, "the pause")
        with live.engine.connect() as conn:
            row = rollouts.get(conn, rollout_id)
        assert row is not None and row.rollout.pause is not None
        assert row.rollout.pause.by == "threshold"
        refused = row.rollout.kiosk("kiosk-b1")
        assert refused is not None and refused.state == "failed"
        assert (refused.reason is not None and "qr" in refused.reason.lower()) or refused.reason
        assert content_of(live, "kiosk-b1") != NEW_VERSION
    finally:
        live.stop()
