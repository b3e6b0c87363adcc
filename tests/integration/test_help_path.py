"""The help path end to end: kiosk press → fleet manager → bridge → responder, and back."""

from __future__ import annotations

import time

import pytest

from responder.client import send_action
from tests.support.live import LiveSystem


def test_help_press_reaches_responder_with_location(shared_live: LiveSystem) -> None:
    alert_id = shared_live.running.press_help("kiosk-a1")
    incident = shared_live.recorders["east"].wait_for_alert(alert_id)
    assert incident.kind == "help"
    assert incident.drill is False
    assert incident.location == "a-waiting"
    assert incident.location_name == "A waiting room"
    assert incident.facility == "clinic-a"
    assert incident.region == "east"
    assert incident.device_id == "kiosk-a1"
    assert incident.route == "east-help"
    assert incident.escalation.team == "east-first"
    # The kiosk keeps the alert until the fleet manager's signed confirmation names it.
    shared_live.wait_confirmed("kiosk-a1", alert_id)
    # Nothing of the east incident reaches the west responder broker.
    time.sleep(0.5)
    assert shared_live.recorders["west"].for_alert(alert_id) == []


def test_acknowledgement_comes_back_and_stops_escalation(shared_live: LiveSystem) -> None:
    alert_id = shared_live.running.press_help("kiosk-a2")
    opened = shared_live.recorders["east"].wait_for_alert(alert_id)
    confirmed = send_action(
        shared_live.responder_endpoint("east"),
        shared_live.layout.responder_identity("east", "desk"),
        "east",
        opened.incident_id,
        "ack",
        "dana",
    )
    assert confirmed is not None
    assert confirmed.state == "acknowledged"
    assert confirmed.acknowledged_by == "dana"
    # Well past the 1.5 s wait: no escalation may follow an acknowledgement.
    time.sleep(3.5)
    states = [i.state for i in shared_live.recorders["east"].for_alert(alert_id)]
    assert "escalated" not in states
    assert shared_live.timeline(opened.incident_id) == ["opened", "routed", "acknowledged"]

    resolved = send_action(
        shared_live.responder_endpoint("east"),
        shared_live.layout.responder_identity("east", "desk"),
        "east",
        opened.incident_id,
        "resolve",
        "dana",
        note="handled by on-site team",
    )
    assert resolved is not None and resolved.state == "resolved"
    assert shared_live.timeline(opened.incident_id)[-1] == "resolved"


def test_no_acknowledgement_notifies_the_next_team_then_exhausts(shared_live: LiveSystem) -> None:
    alert_id = shared_live.running.press_help("kiosk-a1")
    recorder = shared_live.recorders["east"]
    opened = recorder.wait_for_alert(alert_id)
    escalated = recorder.wait_for_alert(alert_id, "escalated", timeout=10)
    assert escalated.escalation.team == "east-second"
    assert escalated.escalation.notified == ["east-first", "east-second"]
    # The second team got its full wait before anything else happened.
    assert escalated.updated_at - opened.opened_at >= 1.5
    exhausted = recorder.wait_for(
        lambda i: str(i.alert_id) == alert_id and i.escalation.exhausted, timeout=10
    )
    assert exhausted.state == "escalated"
    assert shared_live.timeline(opened.incident_id) == [
        "opened",
        "routed",
        "escalated",
        "exhausted",
    ]


def test_drill_travels_the_same_path_marked_as_drill(shared_live: LiveSystem) -> None:
    reply = shared_live.running.ctl("kiosk-b1", {"cmd": "drill"})
    alert_id = str(reply["alert_id"])
    incident = shared_live.recorders["west"].wait_for_alert(alert_id)
    assert incident.drill is True
    assert incident.kind == "drill"
    assert incident.route == "drills"
    assert incident.region == "west"
    row = shared_live.incidents_for_alert(alert_id)[0]
    assert row.drill is True


@pytest.mark.parametrize("device_id", ["kiosk-a1", "kiosk-b1"])
def test_fleet_manager_tracks_kiosks_online_with_heartbeats(
    shared_live: LiveSystem, device_id: str
) -> None:
    import sqlalchemy as sa

    from fleet_manager.store.schema import devices

    deadline = time.monotonic() + 10
    row = None
    while time.monotonic() < deadline:
        with shared_live.engine.connect() as conn:
            row = conn.execute(sa.select(devices).where(devices.c.device_id == device_id)).one()
        if row.online and row.last_heartbeat_at is not None:
            break
        time.sleep(0.2)
    assert row is not None
    assert row.online is True
    assert row.last_heartbeat_at is not None
    assert row.app_version == "0.1.0"
