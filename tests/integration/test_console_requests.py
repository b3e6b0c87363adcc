"""What the console asks of the fleet manager, end to end on a real system (brokers, fleet
manager, kiosk agents, responder brokers): an acknowledgement from the console reaches the
responders like theirs would; identify and drill reach the kiosk; a refused request says why;
kiosk timelines, latency metrics and supervision incidents are recorded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from fleet_manager.routing import policy_store
from fleet_manager.store import console_requests, device_events
from fleet_manager.store.console_requests import ConsoleRequest, RequestKind
from fleet_manager.store.schema import engagement_daily, metric_snapshots
from tests.support.live import TEST_POLICY, LiveSystem
from tests.support.waiting import wait_until


def submit(system: LiveSystem, kind: RequestKind, target: str, note: str | None = None) -> str:
    with system.engine.begin() as conn:
        return console_requests.submit(conn, kind, target, "user:olga", time.time(), note)


def finished(system: LiveSystem, request_id: str, timeout: float = 15.0) -> ConsoleRequest:
    found: list[ConsoleRequest] = []

    def done() -> bool:
        with system.engine.connect() as conn:
            request = console_requests.get(conn, request_id)
        if request is not None and request.state in ("done", "refused"):
            found.append(request)
            return True
        return False

    wait_until(done, timeout, f"console request {request_id} applied")
    return found[0]


def events(system: LiveSystem, device_id: str) -> list[str]:
    with system.engine.connect() as conn:
        return [e.event for e in device_events.timeline(conn, device_id)]


def test_an_acknowledgement_from_the_console_reaches_the_responders(
    shared_live: LiveSystem,
) -> None:
    alert_id = shared_live.running.press_help("kiosk-a1")
    opened = shared_live.recorders["east"].wait_for_alert(alert_id)
    request = finished(shared_live, submit(shared_live, "ack", opened.incident_id))
    assert (request.state, request.outcome) == ("done", "acknowledged")
    seen = shared_live.recorders["east"].wait_for_alert(alert_id, state="acknowledged")
    assert seen.acknowledged_by == "user:olga"

    resolved = finished(
        shared_live, submit(shared_live, "resolve", opened.incident_id, "seen to by the desk")
    )
    assert resolved.state == "done"
    shared_live.recorders["east"].wait_for_alert(alert_id, state="resolved")
    again = finished(shared_live, submit(shared_live, "ack", opened.incident_id))
    assert again.state == "refused"
    assert "already resolved" in (again.outcome or "")
    assert shared_live.timeline(opened.incident_id)[-2:] == ["acknowledged", "resolved"]
    # The kiosk's timeline has the alert; engagement counted the press (aggregate only); the
    # latency histogram counted it.
    assert "alert" in events(shared_live, "kiosk-a1")
    with shared_live.engine.connect() as conn:
        presses = conn.execute(
            sa.select(engagement_daily.c.count).where(
                engagement_daily.c.location_id == "a-waiting", engagement_daily.c.kind == "help"
            )
        ).scalar()
    assert presses is not None and presses >= 1

    def counted() -> bool:
        with shared_live.engine.connect() as conn:
            rows = conn.execute(sa.select(metric_snapshots.c.histograms)).scalars().all()
        return any(r["alert_ingest_seconds"]["count"] >= 1 for r in rows)

    wait_until(counted, 10, "a metric snapshot with the alert's latency")


def test_an_unknown_incident_or_kiosk_is_refused(shared_live: LiveSystem) -> None:
    assert finished(shared_live, submit(shared_live, "ack", "inc-nothing")).state == "refused"
    refused = finished(shared_live, submit(shared_live, "identify", "kiosk-zz"))
    assert (refused.state, refused.outcome) == ("refused", "no such active kiosk")


def test_identify_and_drill_reach_the_kiosk(shared_live: LiveSystem) -> None:
    assert "online" in events(shared_live, "kiosk-b1")
    identify = finished(shared_live, submit(shared_live, "identify", "kiosk-b1"))
    assert identify.state == "done"
    # The headless kiosk answers (it has no screen to identify itself on: a failure result).
    wait_until(
        lambda: {"command_done", "command_failed"} & set(events(shared_live, "kiosk-b1")) != set(),
        15,
        "the identify result on the kiosk's timeline",
    )
    drill = finished(shared_live, submit(shared_live, "drill", "kiosk-b1"))
    assert drill.state == "done"
    incident = shared_live.recorders["west"].wait_for(
        lambda i: i.device_id == "kiosk-b1" and i.drill
    )
    assert incident.kind == "drill"


def test_a_policy_saved_from_the_console_is_in_force_within_seconds(
    shared_live: LiveSystem,
) -> None:
    edited = TEST_POLICY.replace(
        "  - name: catch-all",
        "  - name: west-help\n    match: {region: west, kind: [help]}\n"
        "    chain:\n      steps: [{team: west-night-desk, wait_s: 60}]\n  - name: catch-all",
    )
    with shared_live.engine.begin() as conn:
        assert policy_store.save(conn, edited, 0, "user:olga", time.time()).version == 1
    shared_live.running.fleet_managers[0].wait_for_log("routing_policy_loaded", timeout=10)
    alert_id = shared_live.running.press_help("kiosk-b1")
    incident = shared_live.recorders["west"].wait_for_alert(alert_id)
    assert (incident.route, incident.escalation.team) == ("west-help", "west-night-desk")


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[LiveSystem]:
    """A system whose fleet manager calls a kiosk offline after one second."""
    system = LiveSystem(tmp_path / "system")
    for config in system.layout.fleet_configs:
        data = yaml.safe_load(config.read_text())
        data["supervision"] = {"offline_after_s": 1, "check_interval_s": 0.5}
        config.write_text(yaml.safe_dump(data))
    try:
        system.start()
        yield system
    finally:
        system.stop()


def test_a_kiosk_gone_offline_opens_one_supervision_incident(supervised: LiveSystem) -> None:
    supervised.running.kiosks["kiosk-b1"].stop()
    incident = supervised.recorders["west"].wait_for(
        lambda i: i.kind == "supervision" and i.device_id == "kiosk-b1", timeout=30
    )
    assert incident.location == "b-exam"
    assert "supervision" in events(supervised, "kiosk-b1")
    time.sleep(2)  # several more checks: still one incident for this episode
    with supervised.engine.connect() as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM incidents WHERE kind = 'supervision'")
        ).scalar()
    assert count == 1
