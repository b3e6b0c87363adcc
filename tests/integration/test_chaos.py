"""Chaos: presses interleaved with broker restarts, fleet manager crashes and kiosk crashes.

`make test` runs a bounded version; `make test-slow` runs the long soak.
"""

from __future__ import annotations

import random
import time

import pytest

from tests.support.live import LiveSystem


def _disrupt(live: LiveSystem, kind: str, rng: random.Random) -> list[tuple[str, str]]:
    """Cause one failure, pressing help around it; returns the (alert_id, region) pressed."""
    kiosks = {"kiosk-a1": "east", "kiosk-a2": "east", "kiosk-b1": "west"}
    pressed: list[tuple[str, str]] = []

    def press(device_id: str) -> None:
        pressed.append((live.running.press_help(device_id), kiosks[device_id]))

    victim = rng.choice(sorted(kiosks))
    press(victim)
    if kind == "fleet_broker_restart":
        live.running.fleet_broker.stop()
        press(rng.choice(sorted(kiosks)))
        live.running.fleet_broker.start()
    elif kind == "fleet_manager_crash":
        fm = live.running.fleet_managers[0]
        fm.kill()
        press(rng.choice(sorted(kiosks)))
        live.running.start_fleet_manager(fm)
    elif kind == "kiosk_crash":
        live.running.kiosks[victim].kill()
        live.running.kiosks[victim].start()
        live.running.wait_kiosk_ready(victim, timeout=40)
        press(victim)
    for device_id in kiosks:
        live.running.wait_kiosk_ready(device_id, timeout=40)
    return pressed


@pytest.mark.parametrize(
    "rounds",
    [pytest.param(3, id="bounded"), pytest.param(30, id="soak", marks=pytest.mark.slow)],
)
def test_every_alert_arrives_once_through_repeated_failures(live: LiveSystem, rounds: int) -> None:
    rng = random.Random(rounds)
    kinds = ["fleet_broker_restart", "fleet_manager_crash", "kiosk_crash"]
    pressed: list[tuple[str, str]] = []
    for i in range(rounds):
        pressed += _disrupt(
            live, kinds[i % len(kinds)] if i < len(kinds) else rng.choice(kinds), rng
        )
    for alert_id, region in pressed:
        live.recorders[region].wait_for_alert(alert_id, timeout=60)
    time.sleep(1.0)
    for alert_id, region in pressed:
        assert len(live.incidents_for_alert(alert_id)) == 1, alert_id
        assert len({i.incident_id for i in live.recorders[region].for_alert(alert_id)}) == 1
        assert len([i for i in live.recorders[region].for_alert(alert_id) if i.version == 1]) == 1
