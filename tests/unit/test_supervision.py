"""Which kiosks supervision raises, as a table: offline too long, stale content, and who is
left alone (revoked, unregistered, briefly offline, still inside the grace period)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fleet_manager.supervision.findings import (
    ChannelState,
    Finding,
    KioskHealth,
    SupervisionRules,
    findings,
)

NOW = 100_000.0
RULES = SupervisionRules(offline_after_s=900, stale_content_after_s=3600)
CHANNELS = {
    "stable": ChannelState("2026.11.2", NOW - 7200),
    "pilot": ChannelState("2026.12.1", NOW - 60),
}
HEALTHY = KioskHealth(
    device_id="k1",
    registered=True,
    lifecycle="active",
    online=True,
    status_at=NOW - 5000,
    last_heartbeat_at=NOW - 1,
    channel="stable",
    content_version="2026.11.2",
)


@pytest.mark.parametrize(
    ("kiosk", "expected"),
    [
        (HEALTHY, []),
        # Offline for 20 minutes (last heard at the Last Will): raised, since = that moment.
        (replace(HEALTHY, online=False, status_at=NOW - 1200, last_heartbeat_at=NOW - 1210),
         [Finding("k1", "offline", NOW - 1200)]),
        # Offline, but only for 5 minutes: not yet.
        (replace(HEALTHY, online=False, status_at=NOW - 300, last_heartbeat_at=NOW - 310), []),
        # Exactly at the threshold: raised.
        (replace(HEALTHY, online=False, status_at=NOW - 900, last_heartbeat_at=None),
         [Finding("k1", "offline", NOW - 900)]),
        # Never heard of at all: nothing to measure from.
        (replace(HEALTHY, online=False, status_at=None, last_heartbeat_at=None), []),
        # Revoked, decommissioned or unregistered kiosks are meant to be silent.
        (replace(HEALTHY, online=False, status_at=NOW - 5000, lifecycle="revoked"), []),
        (replace(HEALTHY, online=False, status_at=NOW - 5000, lifecycle="decommissioned"), []),
        (replace(HEALTHY, online=False, status_at=NOW - 5000, registered=False), []),
        # Online on an old bundle two hours after the channel's rollout ended: stale.
        (replace(HEALTHY, content_version="2026.11.1"),
         [Finding("k1", "stale_content", NOW - 7200)]),
        # On an old bundle but the pilot rollout ended a minute ago: still in grace.
        (replace(HEALTHY, channel="pilot", content_version="2026.11.2"), []),
        # A channel without a completed rollout, or a kiosk that reported no version: no claim.
        (replace(HEALTHY, channel="beta", content_version="x"), []),
        (replace(HEALTHY, content_version=None), []),
        # Offline wins over stale content (one finding per kiosk).
        (replace(HEALTHY, online=False, status_at=NOW - 1000, last_heartbeat_at=None,
                 content_version="old"),
         [Finding("k1", "offline", NOW - 1000)]),
    ],
)  # fmt: skip
def test_findings(kiosk: KioskHealth, expected: list[Finding]) -> None:
    assert findings([kiosk], CHANNELS, RULES, NOW) == expected


def test_an_episode_has_one_alert_id_and_a_new_episode_another() -> None:
    first = Finding("k1", "offline", 1000.0)
    assert first.alert_id == Finding("k1", "offline", 1000.0).alert_id
    assert first.alert_id != Finding("k1", "offline", 5000.0).alert_id
    assert first.alert_id != Finding("k1", "stale_content", 1000.0).alert_id
    assert first.alert_id != Finding("k2", "offline", 1000.0).alert_id
