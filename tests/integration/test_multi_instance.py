"""Two fleet manager instances on one broker and one database split the work, and every alert,
acknowledgement and note still takes effect exactly once."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from responder.client import send_action
from tests.support.live import TEST_PLAN, LiveSystem


@pytest.fixture
def two_instances(tmp_path: Path) -> Iterator[LiveSystem]:
    system = LiveSystem(tmp_path / "system", dataclasses.replace(TEST_PLAN, fleet_instances=2))
    try:
        system.start()
        yield system
    finally:
        system.stop()


def test_two_instances_split_alerts_and_apply_each_action_once(two_instances: LiveSystem) -> None:
    live = two_instances
    alert_ids = [live.running.press_help(k) for k in ("kiosk-a1", "kiosk-a2") * 4]
    for alert_id in alert_ids:
        live.recorders["east"].wait_for_alert(alert_id)
    for alert_id in alert_ids:
        assert len(live.incidents_for_alert(alert_id)) == 1
        assert len({i.incident_id for i in live.recorders["east"].for_alert(alert_id)}) == 1
    logs = [fm.log_text() for fm in live.running.fleet_managers]
    assert all('"incident_opened"' in log for log in logs), "both instances should take alerts"

    incident = live.recorders["east"].wait_for_alert(alert_ids[0])
    endpoint = live.responder_endpoint("east")
    desk = live.layout.responder_identity("east", "desk")
    send_action(endpoint, desk, "east", incident.incident_id, "ack", "sam")
    send_action(endpoint, desk, "east", incident.incident_id, "note", "sam", note="on my way")
    resolved = send_action(endpoint, desk, "east", incident.incident_id, "resolve", "sam")
    assert resolved is not None and resolved.state == "resolved"
    events = live.timeline(incident.incident_id)
    assert events.count("acknowledged") == 1
    assert events.count("note") == 1
    assert events.count("resolved") == 1


def test_one_instance_killed_the_other_carries_on(two_instances: LiveSystem) -> None:
    live = two_instances
    live.running.fleet_managers[0].kill()
    alert_ids = [live.running.press_help(k) for k in ("kiosk-a1", "kiosk-b1", "kiosk-a2")]
    for alert_id, region in zip(alert_ids, ("east", "west", "east"), strict=True):
        live.recorders[region].wait_for_alert(alert_id, timeout=45)
        assert len(live.incidents_for_alert(alert_id)) == 1
