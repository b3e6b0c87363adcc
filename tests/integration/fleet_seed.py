"""Kiosks, kiosk timelines and incidents for the fleet and incident tests, written with the
real store functions over the test system (tests.support.console: clinic-a in east with
kiosk-a1 and kiosk-a2, clinic-b in west with kiosk-b1).

Added here: kiosk-a3 at clinic-a, revoked; kiosk-x, seen but never placed (no facility). And
incidents: east (clinic-a) help, drill, acknowledged and resolved ones; one west (clinic-b).
"""

from __future__ import annotations

import time
import uuid
from datetime import date

import sqlalchemy as sa

from fleet_manager.incidents.lifecycle import TimelineEntry, on_responder_action, open_incident
from fleet_manager.routing.policy import EscalationChain, EscalationStep
from fleet_manager.store import (
    device_events,
    fleet_state,
    incident_store,
    registry,
    report_store,
    training_store,
)
from fleet_manager.store.incident_store import IncidentRecord
from fleet_manager.store.report_store import ReportRow
from fleet_manager.store.schema import devices
from protocol.messages import ResponderActionKind

CHAIN = EscalationChain((EscalationStep("east-onsite", 60.0),), repeat=1)

PLACES = {
    "kiosk-a1": ("clinic-a", "east", "a-waiting", "A waiting room"),
    "kiosk-a2": ("clinic-a", "east", "a-restroom", "A restroom"),
    "kiosk-b1": ("clinic-b", "west", "b-exam", "B exam room"),
}


def incident(
    incident_id: str,
    device_id: str,
    opened_at: float,
    *,
    drill: bool = False,
    kind: str = "help",
    state: str = "opened",
) -> tuple[IncidentRecord, list[TimelineEntry]]:
    """An incident record built by hand (as opening.decide_new_incident would)."""
    facility, region, location, name = PLACES[device_id]
    opened = open_incident(CHAIN, f"{region}-help", device_id, opened_at)
    status, timeline = opened.status, list(opened.timeline)
    if state in ("acknowledged", "resolved"):
        action: ResponderActionKind = "ack" if state == "acknowledged" else "resolve"
        step = on_responder_action(status, action, "rita", opened_at + 10, "done")
        assert step is not None
        status, timeline = step.status, [*timeline, *step.timeline]
    record = IncidentRecord(
        incident_id=incident_id,
        alert_id=str(uuid.uuid4()),
        version=1,
        kind="drill" if drill else kind,
        drill=drill,
        region=region,
        facility_id=facility,
        location_id=location,
        location_name=name,
        device_id=device_id,
        alert_ts=opened_at - 0.5,
        opened_at=opened_at,
        updated_at=opened_at,
        route=f"{region}-help",
        chain=CHAIN,
        status=status,
    )
    return record, timeline


def insert_incident(
    engine: sa.Engine, record: IncidentRecord, timeline: list[TimelineEntry]
) -> None:
    """Insert the incident with its alert row, as the fleet manager does."""
    with engine.begin() as conn:
        incident_store.insert_alert(
            conn,
            alert_id=record.alert_id,
            device_id=record.device_id,
            kind=record.kind,
            source="button",
            reported_location=record.location_id,
            alert_ts=record.alert_ts,
            received_at=record.opened_at,
            incident_id=record.incident_id,
        )
        incident_store.insert_incident(conn, record, timeline)


def seed(engine: sa.Engine) -> float:
    """Write the test fleet; returns the time it used as "now"."""
    now = time.time()
    with engine.begin() as conn:
        fleet_state.record_status(conn, "kiosk-a1", True, "s-a1", now - 600, "1.4.0", "c-7")
        fleet_state.record_status(conn, "kiosk-a2", False, "s-a2", now - 500, None, None)
        fleet_state.record_status(conn, "kiosk-b1", True, "s-b1", now - 400, "1.4.0", "c-7")
        registry.register_device(conn, "kiosk-a3", "a-waiting", now - 900)
        conn.execute(
            devices.update().where(devices.c.device_id == "kiosk-a3").values(lifecycle="revoked")
        )
        fleet_state.ensure_devices(conn, {"kiosk-x": now - 800})
        device_events.record(conn, "kiosk-a1", now - 600, "online", "kiosk-a1")
        device_events.record(
            conn,
            "kiosk-a1",
            now - 300,
            "alert",
            "kiosk-a1",
            {"incident_id": "inc-a-help", "kind": "help", "drill": False},
        )
    for record, timeline in (
        incident("inc-a-resolved", "kiosk-a1", now - 400, state="resolved"),
        incident("inc-a-help", "kiosk-a1", now - 300),
        incident("inc-a-drill", "kiosk-a2", now - 200, drill=True),
        incident("inc-a-acked", "kiosk-a2", now - 150, state="acknowledged"),
        incident("inc-b-help", "kiosk-b1", now - 100),
    ):
        insert_incident(engine, record, timeline)
    return now


def seed_reports(engine: sa.Engine) -> None:
    """A sealed report (one entry of opaque bytes) behind inc-a-help and inc-b-help, for the
    report routes. The bytes are not a real ciphertext: these tests never decrypt."""
    now = time.time()
    with engine.begin() as conn:
        for incident_id, (facility, region, location, _name) in (
            ("inc-a-help", PLACES["kiosk-a1"]),
            ("inc-b-help", PLACES["kiosk-b1"]),
        ):
            report_store.open_report(
                conn,
                report=ReportRow(
                    report_id=str(uuid.uuid4()),
                    passphrase_hash="not-a-hash",
                    region=region,
                    facility_id=facility,
                    location_id=location,
                    incident_id=incident_id,
                    created_at=now,
                ),
                case_digest=uuid.uuid4().hex,
                key_id="0123456789abcdef",
                ciphertext=bytes(64),
            )


def seed_training(engine: sa.Engine) -> dict[str, str]:
    """A staff member at clinic-a and one at clinic-b, each with a completed module; their
    certificate ids as ``@certificate-own`` (clinic-a) and ``@certificate-other``."""
    now = time.time()
    found = {}
    with engine.begin() as conn:
        for facility, side in (("clinic-a", "own"), ("clinic-b", "other")):
            _, token = training_store.create_invite(
                conn,
                facility_id=facility,
                full_name=f"Staff {side}",
                email=None,
                actor="seed",
                now=now,
            )
            name = f"staff-{side}"
            training_store.accept_invite(conn, token, name, "correct horse battery staple 42", now)
            record = training_store.add_record(
                conn,
                username=name,
                kind="module",
                completed_on=date.today(),
                hours=1.0,
                now=now,
                actor="seed",
                module_id="recognising-signs",
                module_version="2026.11",
            )
            assert record.certificate_id is not None
            found[f"@certificate-{side}"] = record.certificate_id
    return found
