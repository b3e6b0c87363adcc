"""The kiosk's content thread refuses unsigned or forged nudges: counted, logged, nothing done."""

from __future__ import annotations

import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device.agent.content_loop import ContentLoop
from device.agent.identity import BrokerAddress, DeviceProfile
from device.content.fetch import TufClient
from device.content.updater import ContentUpdater
from protocol.content_delivery import ContentNudge, sign_nudge


def _profile() -> DeviceProfile:
    return DeviceProfile(
        device_id="kiosk-loop1",
        region="east",
        facility="clinic-a",
        location="a-waiting",
        broker=BrokerAddress(host="127.0.0.1", port=8883),
        command_key="A" * 43 + "=",
        channel="stable",
        content_url="https://127.0.0.1:9",
    )


def test_forged_and_garbled_nudges_are_counted_and_ignored(tmp_path: Path) -> None:
    fleet_key = Ed25519PrivateKey.generate()
    client = TufClient(tmp_path, "https://127.0.0.1:9", None, b"{}")
    updater = ContentUpdater(tmp_path, _profile(), client)
    events: list[tuple[str, dict[str, str]]] = []
    loop = ContentLoop(
        updater, fleet_key.public_key(), lambda name, detail: events.append((name, detail))
    )
    nudge = ContentNudge(
        channel="stable", version="2026.12.1", rollout_id="ro-1", seed="s", cutoff=1.0, issued=0.0
    )
    loop.start()
    try:
        loop.nudge(b"not json")
        loop.nudge(sign_nudge(nudge, Ed25519PrivateKey.generate()))  # someone else's key
        deadline = time.monotonic() + 10
        while loop.rejected_nudges < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        loop.stop()
    assert loop.rejected_nudges == 2
    # Nothing was fetched for them: the only report is the start-up check finding no server.
    assert {name for name, _ in events} <= {"content_metadata_stale", "content_failed"}
    assert updater.current_version() is None
