"""Reports become incidents (the fleet manager's side), on SQLite and PostgreSQL: the landing
page's desk stores sealed entries; ReportDelivery opens an incident of kind "report" routed
like a help alert, and each addition publishes a new version. Publishing is the only edge
replaced: the records handed to it are what would go to the responders' broker."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from fleet_manager.incidents.lifecycle import on_responder_action
from fleet_manager.incidents.view import incident_message
from fleet_manager.landing.desk import ReportDesk, Sent
from fleet_manager.metrics import Counters
from fleet_manager.reports.delivery import ReportDelivery
from fleet_manager.reports.submission import ReportContent, addition_content
from fleet_manager.routing.policy import load_policy
from fleet_manager.store import incident_store, registry, report_store
from fleet_manager.store.incident_store import IncidentRecord
from fleet_manager.store.schema import alerts, report_entries
from tests.support.landing import region_key

POLICY = load_policy(
    """
routes:
  - name: north-help
    match: {region: north, kind: [help, report]}
    chain:
      steps: [{team: north-onsite, wait_s: 30}, {team: north-regional, wait_s: 60}]
  - name: everything-else
    match: {}
    chain:
      steps: [{team: central-ops, wait_s: 60}]
""",
    "test policy",
)
SECRET = "nobody may read this but the responders 9921"


@pytest.fixture
def engine(engine: sa.Engine) -> sa.Engine:
    """The store on SQLite and PostgreSQL (tests/integration/conftest.py) with clinic-n, its
    waiting room and region north's report key."""
    now = time.time()
    with engine.begin() as conn:
        registry.create_facility(conn, "clinic-n", "North Clinic", "north", now)
        registry.create_location(conn, "n-waiting", "clinic-n", "Waiting room", "waiting_room", now)
    region_key(engine, "north")
    return engine


def content(text: str) -> ReportContent:
    return ReportContent(kind="report", language="es", submitted_at=time.time(), what=text)


def place(engine: sa.Engine) -> registry.TokenPlace:
    with engine.connect() as conn:
        location = registry.get_location(conn, "n-waiting")
        assert location is not None
        found = registry.place_of_token(conn, location.qr_token, time.time())
    assert found is not None
    return found


def delivery(engine: sa.Engine, published: list[IncidentRecord]) -> ReportDelivery:
    return ReportDelivery(engine, lambda: POLICY, published.append, Counters())


def test_a_report_opens_a_routed_incident_and_an_addition_publishes_a_new_version(
    engine: sa.Engine,
) -> None:
    desk = ReportDesk(engine, Counters(), "north", time.time)
    sent = desk.submit(place(engine), content(SECRET))
    assert isinstance(sent, Sent)
    published: list[IncidentRecord] = []
    deliver = delivery(engine, published)

    next_at = deliver.deliver(time.time())
    assert [r.incident_id for r in published] == [sent.incident_id]
    opened = published[0]
    assert (opened.kind, opened.region, opened.location_id, opened.location_name) == (
        "report",
        "north",
        "n-waiting",
        "Waiting room",
    )
    assert (opened.route, opened.status.escalation.team) == ("north-help", "north-onsite")
    assert opened.report_entries == 1 and opened.version == 1
    assert next_at == opened.status.escalation.next_at  # the worker's timer learns of it
    # What responders are sent says that a report exists, never what it says.
    wire = incident_message(opened).to_bytes()
    assert b'"report_entries":1' in wire.replace(b" ", b"") and SECRET.encode() not in wire

    found = desk.find(sent.credentials.code_shown, sent.credentials.passphrase_shown)
    assert found is not None
    desk.add(found, addition_content("later: " + SECRET, "es", time.time()))
    deliver.deliver(time.time())
    assert [(r.version, r.report_entries) for r in published] == [(1, 1), (2, 2)]
    with engine.connect() as conn:
        events = [e.event for e in incident_store.timeline(conn, sent.incident_id)]
        kinds = conn.execute(sa.select(alerts.c.kind, alerts.c.source)).all()
        waiting = conn.execute(
            sa.select(sa.func.count())
            .select_from(report_entries)
            .where(report_entries.c.delivered_at.is_(None))
        ).scalar()
    assert events[0] == "report_received" and events[-1] == "report_added"
    assert [tuple(k) for k in kinds] == [("report", "landing")]
    assert waiting == 0
    assert deliver.deliver(time.time()) is None and len(published) == 2


def test_delivering_the_same_entries_twice_changes_nothing(engine: sa.Engine) -> None:
    """Two fleet managers may pick up the same entries before either marks them."""
    desk = ReportDesk(engine, Counters(), "north", time.time)
    sent = desk.submit(place(engine), content("x"))
    assert isinstance(sent, Sent)
    found = desk.find(sent.credentials.code, sent.credentials.passphrase)
    assert found is not None
    desk.add(found, addition_content("y", "es", time.time()))
    first: list[IncidentRecord] = []
    delivery(engine, first).deliver(time.time())
    with engine.begin() as conn:
        conn.execute(report_entries.update().values(delivered_at=None))
    second: list[IncidentRecord] = []
    delivery(engine, second).deliver(time.time())
    assert second == []
    with engine.connect() as conn:
        record = incident_store.get_incident(conn, sent.incident_id)
    assert record is not None and (record.version, record.report_entries) == (2, 2)


def test_the_store_keeps_the_newest_unretired_key_per_region(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        [first] = report_store.keys(conn, "north")
    region_key(engine, "north")
    with engine.begin() as conn:
        keys = report_store.keys(conn, "north")
        assert report_store.active_keys(conn)["north"].key_id == keys[-1].key_id != first.key_id
        assert report_store.retire_key(conn, keys[-1].key_id, time.time())
        assert report_store.active_keys(conn)["north"].key_id == first.key_id
        with pytest.raises(report_store.ReportStoreError):
            report_store.add_key(
                conn,
                key_id=first.key_id,
                region="south",
                public_key=first.public_key,
                by="t",
                now=time.time(),
            )


def test_an_addition_to_a_resolved_report_opens_it_again(engine: sa.Engine) -> None:
    desk = ReportDesk(engine, Counters(), "north", time.time)
    sent = desk.submit(place(engine), content("first"))
    assert isinstance(sent, Sent)
    published: list[IncidentRecord] = []
    deliver = delivery(engine, published)
    deliver.deliver(time.time())
    with engine.begin() as conn:
        record = incident_store.get_incident(conn, sent.incident_id)
        assert record is not None
        step = on_responder_action(record.status, "resolve", "rita", time.time(), "safe now")
        assert step is not None
        incident_store.update_status(conn, record, step.status, step.timeline, time.time())
    found = desk.find(sent.credentials.code, sent.credentials.passphrase)
    assert found is not None
    desk.add(found, addition_content("he came back", "es", time.time()))
    now = time.time()
    next_at = deliver.deliver(now)
    reopened = published[-1]
    assert (reopened.status.state, reopened.report_entries, reopened.status.resolved_by) == (
        "opened",
        2,
        None,
    )
    assert reopened.status.escalation.team == "north-onsite"
    assert next_at == reopened.status.escalation.next_at == now + 30
    with engine.connect() as conn:
        events = [e.event for e in incident_store.timeline(conn, sent.incident_id)]
    assert events[-3:] == ["report_added", "reopened", "routed"]
