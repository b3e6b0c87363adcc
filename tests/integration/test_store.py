"""fleet_manager.store on real databases: every test runs on a SQLite file AND on PostgreSQL.

PostgreSQL is the local server (127.0.0.1:5432, trust auth, user ``postgres``). Each test session
creates its own uniquely named database and drops it at the end. `make test` expects the server:
if it cannot be reached the tests fail with a message saying so (they are never skipped).
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from fleet_manager.incidents.lifecycle import (
    IncidentStatus,
    TimelineEntry,
    on_escalation_timer,
    on_responder_action,
    open_incident,
)
from fleet_manager.routing.policy import EscalationChain, EscalationStep
from fleet_manager.store import fleet_state, incident_store, registry
from fleet_manager.store.database import migrate
from fleet_manager.store.fleet_state import Heartbeat
from fleet_manager.store.incident_store import IncidentRecord
from fleet_manager.store.registry import DevicePlacement
from fleet_manager.store.schema import (
    alerts,
    devices,
    facilities,
    incident_events,
    incidents,
    locations,
    metadata,
)

# A time that needs double precision: a 4-byte float would round it.
T0 = 1_700_000_000.125

CHAIN = EscalationChain(
    (EscalationStep("north-onsite", 30.0), EscalationStep("north-regional", 60.0)), repeat=2
)


# -- databases --------------------------------------------------------------------------------


# -- helpers ----------------------------------------------------------------------------------


def _place(conn: sa.Connection) -> None:
    registry.add_facility(conn, "fac-st-mary", "St Mary's Hospital", "north", T0)
    registry.add_location(
        conn, "loc-waiting-1", "fac-st-mary", "Waiting room 1", "waiting_room", T0, "tok-1"
    )


def _incident(
    incident_id: str = "inc-1",
    alert_id: str = "00000000-0000-4000-8000-000000000001",
    opened_at: float = T0,
    *,
    facility_id: str | None = "fac-st-mary",
    drill: bool = False,
) -> tuple[IncidentRecord, tuple[TimelineEntry, ...]]:
    opened = open_incident(CHAIN, "north-help", "kiosk-a1", opened_at)
    record = IncidentRecord(
        incident_id=incident_id,
        alert_id=alert_id,
        version=1,
        kind="drill" if drill else "help",
        drill=drill,
        region="north",
        facility_id=facility_id,
        location_id="loc-waiting-1",
        location_name="Waiting room 1" if facility_id else None,
        device_id="kiosk-a1",
        alert_ts=opened_at - 0.5,
        opened_at=opened_at,
        updated_at=opened_at,
        route="north-help",
        chain=CHAIN,
        status=opened.status,
    )
    return record, opened.timeline


def _insert(engine: sa.Engine, record: IncidentRecord, timeline: tuple[TimelineEntry, ...]) -> None:
    with engine.begin() as conn:
        incident_store.insert_incident(conn, record, timeline)


# -- schema -----------------------------------------------------------------------------------


def test_migrate_twice_is_idempotent(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        registry.add_facility(conn, "fac-a", "A", "north", T0)
    migrate(engine)
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [("0008",)]
        assert conn.execute(sa.select(facilities.c.facility_id)).scalars().all() == ["fac-a"]


def test_migrated_schema_equals_metadata(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) == {*metadata.tables, "alembic_version"}
    for name, table in metadata.tables.items():
        columns = {c["name"]: c["nullable"] for c in inspector.get_columns(name)}
        assert columns == {c.name: c.nullable for c in table.columns}, name
        pk = inspector.get_pk_constraint(name)["constrained_columns"]
        assert pk == [c.name for c in table.primary_key.columns], name
        fks = {
            (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
            for fk in inspector.get_foreign_keys(name)
        }
        assert fks == {
            (
                tuple(c.name for c in fk.columns),
                fk.referred_table.name,
                tuple(e.column.name for e in fk.elements),
            )
            for fk in table.foreign_key_constraints
        }, name
        indexes = {
            (i["name"], tuple(i["column_names"]))
            for i in inspector.get_indexes(name)
            if not i["unique"]
        }
        assert indexes == {(i.name, tuple(c.name for c in i.columns)) for i in table.indexes}, name
        uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(name)}
        assert uniques == {
            tuple(c.name for c in u.columns)
            for u in table.constraints
            if isinstance(u, sa.UniqueConstraint)
        }, name


# -- registry ---------------------------------------------------------------------------------


def test_registry_add_and_placement(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _place(conn)
        token = registry.add_location(
            conn, "loc-bath-1", "fac-st-mary", "Bathroom, 1st floor", "bathroom", T0
        )
        registry.register_device(conn, "kiosk-a1", "loc-waiting-1", T0)
        registry.register_device(conn, "kiosk-b2", "loc-bath-1", T0, channel="beta")
    assert len(token) >= 20 and token.replace("-", "").replace("_", "").isalnum()
    with engine.connect() as conn:
        assert registry.placement(conn, "kiosk-a1") == DevicePlacement(
            "kiosk-a1", "loc-waiting-1", "Waiting room 1", "fac-st-mary", "north"
        )
        assert registry.placement(conn, "kiosk-b2") == DevicePlacement(
            "kiosk-b2", "loc-bath-1", "Bathroom, 1st floor", "fac-st-mary", "north"
        )
        assert registry.placement(conn, "kiosk-unknown") is None
        row = conn.execute(
            sa.select(devices.c.registered, devices.c.channel, devices.c.online).where(
                devices.c.device_id == "kiosk-b2"
            )
        ).one()
        assert tuple(row) == (True, "beta", False)
        assert (
            conn.execute(
                sa.select(locations.c.qr_token).where(locations.c.location_id == "loc-bath-1")
            ).scalar_one()
            == token
        )


def test_device_seen_before_registration_keeps_its_state(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _place(conn)
        fleet_state.record_status(conn, "kiosk-a1", True, "s-1", T0, "1.4.0", "c-7")
    with engine.connect() as conn:
        assert registry.placement(conn, "kiosk-a1") is None  # unregistered: not placed
    with engine.begin() as conn:
        registry.register_device(conn, "kiosk-a1", "loc-waiting-1", T0 + 5)
    with engine.connect() as conn:
        row = fleet_state.device_row(conn, "kiosk-a1")
        assert row is not None
        assert (row.registered, row.online, row.session, row.app_version, row.created_at) == (
            True,
            True,
            "s-1",
            "1.4.0",
            T0,
        )
        assert registry.placement(conn, "kiosk-a1") is not None


@pytest.mark.parametrize(
    ("action", "error"),
    [
        pytest.param(
            lambda c: registry.add_location(c, "loc-x", "fac-st-mary", "X", "kitchen", T0),
            ValueError,
            id="bad-location-kind",
        ),
        pytest.param(
            lambda c: registry.add_location(c, "loc-x", "fac-st-mary", "X", "other", T0, "tok-1"),
            sa.exc.IntegrityError,
            id="duplicate-qr-token",
        ),
        pytest.param(
            lambda c: registry.add_location(c, "loc-x", "fac-nowhere", "X", "other", T0),
            sa.exc.IntegrityError,
            id="location-unknown-facility",
        ),
        pytest.param(
            lambda c: registry.register_device(c, "kiosk-z", "loc-nowhere", T0),
            sa.exc.IntegrityError,
            id="device-unknown-location",
        ),
        pytest.param(
            lambda c: registry.add_facility(c, "fac-st-mary", "Again", "south", T0),
            sa.exc.IntegrityError,
            id="duplicate-facility",
        ),
    ],
)
def test_registry_refuses(engine: sa.Engine, action: Any, error: type[Exception]) -> None:
    with engine.begin() as conn:
        _place(conn)
    with pytest.raises(error), engine.begin() as conn:
        action(conn)


# -- fleet state ------------------------------------------------------------------------------


def _status_row(engine: sa.Engine, device_id: str) -> tuple[Any, ...]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(
                devices.c.online,
                devices.c.session,
                devices.c.status_at,
                devices.c.app_version,
                devices.c.content_version,
                devices.c.registered,
            ).where(devices.c.device_id == device_id)
        ).one()
    return tuple(row)


def _status(
    engine: sa.Engine, online: bool, session: str, at: float, app: str | None = None
) -> bool:
    with engine.begin() as conn:
        return fleet_state.record_status(
            conn, "kiosk-a1", online, session, at, app, "c-7" if app else None
        )


def test_record_status_ignores_stale_last_will(engine: sa.Engine) -> None:
    assert _status(engine, True, "s-1", T0, "1.4.0") is True
    assert _status_row(engine, "kiosk-a1") == (True, "s-1", T0, "1.4.0", "c-7", False)
    # A quick reconnect: the new session's birth arrives before the old session's Will.
    assert _status(engine, True, "s-2", T0 + 10, "1.4.1") is True
    assert _status(engine, False, "s-1", T0 + 11) is False
    assert _status_row(engine, "kiosk-a1") == (True, "s-2", T0 + 10, "1.4.1", "c-7", False)
    # The current session's Will is applied; versions stay as last reported.
    assert _status(engine, False, "s-2", T0 + 20) is True
    assert _status_row(engine, "kiosk-a1") == (False, "s-2", T0 + 20, "1.4.1", "c-7", False)
    # And a later birth brings it back.
    assert _status(engine, True, "s-3", T0 + 30, "1.4.1") is True
    assert _status_row(engine, "kiosk-a1") == (True, "s-3", T0 + 30, "1.4.1", "c-7", False)


def test_last_will_of_unknown_kiosk_tracks_it_offline(engine: sa.Engine) -> None:
    assert _status(engine, False, "s-9", T0) is True
    assert _status_row(engine, "kiosk-a1") == (False, "s-9", T0, None, None, False)


def test_record_heartbeats(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _place(conn)
        registry.register_device(conn, "kiosk-a1", "loc-waiting-1", T0)
        fleet_state.record_heartbeats(
            conn,
            [
                Heartbeat("kiosk-a1", T0 + 60, 7, 0, "1.4.0", "c-7"),
                Heartbeat("kiosk-new", T0 + 61, 1, 2, "1.3.9", None),
            ],
        )
    with engine.begin() as conn:
        fleet_state.record_heartbeats(conn, [Heartbeat("kiosk-a1", T0 + 120, 8, 1, "1.4.0", "c-8")])
    columns = (
        devices.c.device_id,
        devices.c.registered,
        devices.c.last_heartbeat_at,
        devices.c.heartbeat_seq,
        devices.c.outbox_pending,
        devices.c.app_version,
        devices.c.content_version,
        devices.c.created_at,
    )
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*columns).order_by(devices.c.device_id)).all()
    assert [tuple(r) for r in rows] == [
        ("kiosk-a1", True, T0 + 120, 8, 1, "1.4.0", "c-8", T0),
        ("kiosk-new", False, T0 + 61, 1, 2, "1.3.9", None, T0 + 61),
    ]


# -- alerts -----------------------------------------------------------------------------------

ALERT: dict[str, Any] = {
    "alert_id": "00000000-0000-4000-8000-000000000001",
    "device_id": "kiosk-a1",
    "kind": "help",
    "source": "button",
    "reported_location": "loc-waiting-1",
    "alert_ts": T0,
    "received_at": T0 + 0.25,
    "incident_id": "inc-1",
}


def test_insert_alert_and_duplicate(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        incident_store.insert_alert(conn, **ALERT)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        incident_store.insert_alert(conn, **{**ALERT, "received_at": T0 + 5, "incident_id": "x"})
    with engine.begin() as conn:
        assert incident_store.find_alert_incident(conn, ALERT["alert_id"]) == "inc-1"
        assert incident_store.find_alert_incident(conn, "no-such-alert") is None
        incident_store.count_duplicate(conn, ALERT["alert_id"])
        incident_store.count_duplicate(conn, ALERT["alert_id"])
    with engine.connect() as conn:
        row = conn.execute(sa.select(alerts)).one()
    assert row._asdict() == {**ALERT, "duplicates": 2}


# -- incidents --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facility_id", "drill"),
    [
        pytest.param("fac-st-mary", False, id="help-at-facility"),
        pytest.param(None, True, id="drill-without-facility"),
    ],
)
def test_incident_round_trip(engine: sa.Engine, facility_id: str | None, drill: bool) -> None:
    record, opened = _incident(facility_id=facility_id, drill=drill)
    _insert(engine, record, opened)
    with engine.connect() as conn:
        assert incident_store.get_incident(conn, "inc-1") == record
        assert incident_store.get_incident(conn, "inc-missing") is None
        assert incident_store.timeline(conn, "inc-1") == list(opened)


def test_round_trip_of_an_exhausted_escalation(engine: sa.Engine) -> None:
    record, opened = _incident()
    status = record.status
    for now in (T0 + 30, T0 + 90, T0 + 120, T0 + 180):
        step = on_escalation_timer(CHAIN, status, now)
        assert step is not None
        status = step.status
    assert status.escalation.exhausted
    exhausted = IncidentRecord(**{**record.__dict__, "status": status})
    _insert(engine, exhausted, opened)
    with engine.connect() as conn:
        stored = incident_store.get_incident(conn, "inc-1")
    assert stored is not None
    assert stored.status == IncidentStatus(
        "escalated", status.escalation, acknowledged_by=None, resolved_by=None
    )
    assert stored.status.escalation.notified == ("north-onsite", "north-regional")
    assert stored.status.escalation.next_at is None


def test_update_status_with_stale_version_returns_none(engine: sa.Engine) -> None:
    record, opened = _incident()
    _insert(engine, record, opened)
    ack = on_responder_action(record.status, "ack", "ana", T0 + 12)
    assert ack is not None
    with engine.begin() as conn:
        updated = incident_store.update_status(conn, record, ack.status, ack.timeline, T0 + 12)
    assert updated is not None
    assert (updated.version, updated.updated_at, updated.status) == (2, T0 + 12, ack.status)
    # Another instance still holds version 1 and tries to resolve: it loses.
    resolve = on_responder_action(record.status, "resolve", "ben", T0 + 13)
    assert resolve is not None
    with engine.begin() as conn:
        stale = incident_store.update_status(
            conn, record, resolve.status, resolve.timeline, T0 + 13
        )
    assert stale is None
    with engine.connect() as conn:
        assert incident_store.get_incident(conn, "inc-1") == updated
        assert [e.event for e in incident_store.timeline(conn, "inc-1")] == [
            "opened",
            "routed",
            "acknowledged",
        ]


def test_concurrent_updates_only_one_wins(engine: sa.Engine) -> None:
    record, opened = _incident()
    _insert(engine, record, opened)
    first = on_responder_action(record.status, "ack", "ana", T0 + 5)
    second = on_escalation_timer(CHAIN, record.status, T0 + 30)
    assert first is not None and second is not None
    with engine.connect() as a, engine.connect() as b:
        seen_a = incident_store.get_incident(a, "inc-1")
        seen_b = incident_store.get_incident(b, "inc-1")
        assert seen_a == seen_b == record
        assert seen_a is not None and seen_b is not None
        won = incident_store.update_status(a, seen_a, first.status, first.timeline, T0 + 5)
        a.commit()
        lost = incident_store.update_status(b, seen_b, second.status, second.timeline, T0 + 30)
        b.commit()
    assert won is not None and won.version == 2
    assert lost is None
    with engine.connect() as conn:
        final = incident_store.get_incident(conn, "inc-1")
    assert final is not None
    assert (final.version, final.status.state, final.status.acknowledged_by) == (
        2,
        "acknowledged",
        "ana",
    )


def test_due_escalations_and_next_escalation_at(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert incident_store.next_escalation_at(conn) is None
        assert incident_store.due_escalations(conn, T0 + 1e6) == []
    early, early_tl = _incident("inc-early", "a-1", T0)  # due at T0 + 30
    late, late_tl = _incident("inc-late", "a-2", T0 + 50)  # due at T0 + 80
    acked, acked_tl = _incident("inc-acked", "a-3", T0 - 100)
    escalated, esc_tl = _incident("inc-escalated", "a-4", T0 - 10)  # due T0 + 20, then T0 + 85
    for rec, tl in ((early, early_tl), (late, late_tl), (acked, acked_tl), (escalated, esc_tl)):
        _insert(engine, rec, tl)
    ack = on_responder_action(acked.status, "ack", "ana", T0 - 99)
    esc = on_escalation_timer(CHAIN, escalated.status, T0 + 25)
    assert ack is not None and esc is not None
    assert esc.status.escalation.next_at == T0 + 85
    with engine.begin() as conn:
        assert incident_store.update_status(conn, acked, ack.status, ack.timeline, T0 - 99)
        assert incident_store.update_status(conn, escalated, esc.status, esc.timeline, T0 + 25)

    def due(now: float, limit: int = 100) -> list[str]:
        with engine.connect() as conn:
            return [r.incident_id for r in incident_store.due_escalations(conn, now, limit)]

    assert due(T0 + 29.9) == []
    assert due(T0 + 30) == ["inc-early"]
    assert due(T0 + 80) == ["inc-early", "inc-late"]
    assert due(T0 + 85) == ["inc-early", "inc-late", "inc-escalated"]
    assert due(T0 + 85, limit=2) == ["inc-early", "inc-late"]
    with engine.connect() as conn:
        assert incident_store.next_escalation_at(conn) == T0 + 30
        records = incident_store.due_escalations(conn, T0 + 30)
    assert records[0] == early

    resolve = on_responder_action(early.status, "resolve", "ben", T0 + 31)
    assert resolve is not None
    with engine.begin() as conn:
        assert incident_store.update_status(conn, early, resolve.status, resolve.timeline, T0 + 31)
        # A resolved incident is never due, even if a next time were left behind.
        conn.execute(
            incidents.update()
            .where(incidents.c.incident_id == "inc-early")
            .values(next_escalation_at=T0 + 1)
        )
    assert due(T0 + 1e6) == ["inc-late", "inc-escalated"]
    with engine.connect() as conn:
        assert incident_store.next_escalation_at(conn) == T0 + 80


def test_due_escalations_are_ordered_by_time(engine: sa.Engine) -> None:
    for n, opened_at in enumerate((T0 + 7, T0 + 3, T0 + 9, T0 + 1)):
        rec, tl = _incident(f"inc-{n}", f"a-{n}", opened_at)
        _insert(engine, rec, tl)
    with engine.connect() as conn:
        found = incident_store.due_escalations(conn, T0 + 100)
        assert [r.incident_id for r in found] == ["inc-3", "inc-1", "inc-0", "inc-2"]
        assert [r.status.escalation.next_at for r in found] == [
            T0 + 31,
            T0 + 33,
            T0 + 37,
            T0 + 39,
        ]
        assert incident_store.next_escalation_at(conn) == T0 + 31


def test_timeline_keeps_insertion_order(engine: sa.Engine) -> None:
    record, opened = _incident()
    other, other_tl = _incident("inc-2", "a-2")
    _insert(engine, record, opened)
    _insert(engine, other, other_tl)
    later = [
        TimelineEntry(T0 + 50, "note", "ana", {"note": "checking", "n": [1, 2]}),
        TimelineEntry(T0 + 40, "note", "ben", {"note": "clock behind"}),  # earlier time, later row
    ]
    with engine.begin() as conn:
        incident_store.append_timeline(conn, "inc-1", later[:1])
        incident_store.append_timeline(conn, "inc-2", [TimelineEntry(T0 + 45, "note", "cy", {})])
        incident_store.append_timeline(conn, "inc-1", later[1:])
        incident_store.append_timeline(conn, "inc-1", [])
    with engine.connect() as conn:
        assert incident_store.timeline(conn, "inc-1") == [*opened, *later]
        assert incident_store.timeline(conn, "inc-2") == [
            *other_tl,
            TimelineEntry(T0 + 45, "note", "cy", {}),
        ]
        assert incident_store.timeline(conn, "inc-missing") == []
        count = conn.execute(sa.select(sa.func.count()).select_from(incident_events)).scalar()
    assert count == 7


def test_open_or_recent_incidents(engine: sa.Engine) -> None:
    open_rec, open_tl = _incident("inc-open", "a-1", T0)
    old, old_tl = _incident("inc-old", "a-2", T0 - 7200)
    recent, recent_tl = _incident("inc-recent", "a-3", T0 - 60)
    for rec, tl in ((open_rec, open_tl), (old, old_tl), (recent, recent_tl)):
        _insert(engine, rec, tl)
    with engine.begin() as conn:
        for rec, at in ((old, T0 - 7000), (recent, T0 - 30)):
            done = on_responder_action(rec.status, "resolve", "ana", at)
            assert done is not None
            assert incident_store.update_status(conn, rec, done.status, done.timeline, at)
    with engine.connect() as conn:
        found = incident_store.open_or_recent_incidents(conn, since=T0 - 3600)
    assert sorted(r.incident_id for r in found) == ["inc-open", "inc-recent"]
