"""Alerts, incidents and their timelines.

Writes use optimistic concurrency (``version``): several fleet manager instances may handle the
same incident, and only one of them wins each transition; the loser re-reads and re-decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from fleet_manager.incidents.escalation import EscalationStatus
from fleet_manager.incidents.lifecycle import IncidentStatus, TimelineEntry
from fleet_manager.routing.policy import EscalationChain, EscalationStep
from fleet_manager.store.schema import alerts, incident_events, incidents


@dataclass(frozen=True)
class IncidentRecord:
    incident_id: str
    alert_id: str
    version: int
    kind: str
    drill: bool
    region: str
    facility_id: str | None
    location_id: str
    location_name: str | None
    device_id: str
    alert_ts: float
    opened_at: float
    updated_at: float
    route: str
    chain: EscalationChain
    status: IncidentStatus
    # Entries of the encrypted report behind an incident of kind "report" (0 for the others).
    report_entries: int = 0


def chain_to_json(chain: EscalationChain) -> dict[str, Any]:
    return {"steps": [asdict(s) for s in chain.steps], "repeat": chain.repeat}


def chain_from_json(data: dict[str, Any]) -> EscalationChain:
    return EscalationChain(
        steps=tuple(
            EscalationStep(team=s["team"], wait_s=float(s["wait_s"])) for s in data["steps"]
        ),
        repeat=int(data["repeat"]),
    )


def _status_columns(status: IncidentStatus) -> dict[str, Any]:
    esc = status.escalation
    return {
        "state": status.state,
        "escalation_level": esc.level,
        "escalation_team": esc.team,
        "notified": list(esc.notified),
        "next_escalation_at": esc.next_at,
        "exhausted": esc.exhausted,
        "acknowledged_by": status.acknowledged_by,
        "resolved_by": status.resolved_by,
    }


def _record(row: Any) -> IncidentRecord:
    status = IncidentStatus(
        state=row.state,
        escalation=EscalationStatus(
            level=row.escalation_level,
            team=row.escalation_team,
            notified=tuple(row.notified),
            next_at=row.next_escalation_at,
            exhausted=row.exhausted,
        ),
        acknowledged_by=row.acknowledged_by,
        resolved_by=row.resolved_by,
    )
    return IncidentRecord(
        incident_id=row.incident_id,
        alert_id=row.alert_id,
        version=row.version,
        kind=row.kind,
        drill=row.drill,
        region=row.region,
        facility_id=row.facility_id,
        location_id=row.location_id,
        location_name=row.location_name,
        device_id=row.device_id,
        alert_ts=row.alert_ts,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        route=row.route,
        chain=chain_from_json(row.chain),
        status=status,
        report_entries=row.report_entries,
    )


def find_alert_incident(conn: sa.Connection, alert_id: str) -> str | None:
    row = conn.execute(sa.select(alerts.c.incident_id).where(alerts.c.alert_id == alert_id)).first()
    return None if row is None else str(row[0])


def count_duplicate(conn: sa.Connection, alert_id: str) -> None:
    conn.execute(
        alerts.update()
        .where(alerts.c.alert_id == alert_id)
        .values(duplicates=alerts.c.duplicates + 1)
    )


def insert_alert(
    conn: sa.Connection,
    *,
    alert_id: str,
    device_id: str,
    kind: str,
    source: str,
    reported_location: str,
    alert_ts: float,
    received_at: float,
    incident_id: str,
) -> None:
    conn.execute(
        alerts.insert().values(
            alert_id=alert_id,
            device_id=device_id,
            kind=kind,
            source=source,
            reported_location=reported_location,
            alert_ts=alert_ts,
            received_at=received_at,
            incident_id=incident_id,
            duplicates=0,
        )
    )


def insert_incident(
    conn: sa.Connection, record: IncidentRecord, timeline: Sequence[TimelineEntry]
) -> None:
    conn.execute(
        incidents.insert().values(
            incident_id=record.incident_id,
            alert_id=record.alert_id,
            version=record.version,
            kind=record.kind,
            drill=record.drill,
            region=record.region,
            facility_id=record.facility_id,
            location_id=record.location_id,
            location_name=record.location_name,
            device_id=record.device_id,
            alert_ts=record.alert_ts,
            opened_at=record.opened_at,
            updated_at=record.updated_at,
            route=record.route,
            chain=chain_to_json(record.chain),
            report_entries=record.report_entries,
            **_status_columns(record.status),
        )
    )
    append_timeline(conn, record.incident_id, timeline)


def insert_opened(
    conn: sa.Connection,
    record: IncidentRecord,
    timeline: Sequence[TimelineEntry],
    *,
    source: str,
    received_at: float,
) -> None:
    """An incident the fleet manager opened itself (supervision, a report), with the alert row
    that keeps it from being opened twice: everything but ``source`` comes from ``record``."""
    insert_alert(
        conn,
        alert_id=record.alert_id,
        device_id=record.device_id,
        kind=record.kind,
        source=source,
        reported_location=record.location_id,
        alert_ts=record.alert_ts,
        received_at=received_at,
        incident_id=record.incident_id,
    )
    insert_incident(conn, record, timeline)


def append_timeline(
    conn: sa.Connection, incident_id: str, entries: Sequence[TimelineEntry]
) -> None:
    if entries:
        conn.execute(
            incident_events.insert(),
            [
                {
                    "incident_id": incident_id,
                    "at": e.at,
                    "event": e.event,
                    "actor": e.actor,
                    "detail": e.detail,
                }
                for e in entries
            ],
        )


def get_incident(conn: sa.Connection, incident_id: str) -> IncidentRecord | None:
    row = conn.execute(sa.select(incidents).where(incidents.c.incident_id == incident_id)).first()
    return None if row is None else _record(row)


def update_status(
    conn: sa.Connection,
    record: IncidentRecord,
    status: IncidentStatus,
    timeline: Sequence[TimelineEntry],
    now: float,
) -> IncidentRecord | None:
    """Write ``status`` if nobody changed the incident since ``record`` was read; else None."""
    result = conn.execute(
        incidents.update()
        .where(incidents.c.incident_id == record.incident_id, incidents.c.version == record.version)
        .values(version=record.version + 1, updated_at=now, **_status_columns(status))
    )
    if result.rowcount != 1:
        return None
    append_timeline(conn, record.incident_id, timeline)
    return get_incident(conn, record.incident_id)


def record_report_entries(
    conn: sa.Connection,
    record: IncidentRecord,
    entries: int,
    status: IncidentStatus,
    timeline: Sequence[TimelineEntry],
    now: float,
) -> IncidentRecord | None:
    """A reporter added to the report: a new version saying how many entries it has now
    (responders fetch and decrypt them) with its status (reopened, if it was resolved), if
    nobody changed the incident since ``record``."""
    result = conn.execute(
        incidents.update()
        .where(incidents.c.incident_id == record.incident_id, incidents.c.version == record.version)
        .values(
            version=record.version + 1,
            updated_at=now,
            report_entries=entries,
            **_status_columns(status),
        )
    )
    if result.rowcount != 1:
        return None
    append_timeline(conn, record.incident_id, timeline)
    return get_incident(conn, record.incident_id)


def due_escalations(conn: sa.Connection, now: float, limit: int = 100) -> list[IncidentRecord]:
    rows = conn.execute(
        sa.select(incidents)
        .where(
            incidents.c.next_escalation_at.is_not(None),
            incidents.c.next_escalation_at <= now,
            incidents.c.state.in_(("opened", "escalated")),
        )
        .order_by(incidents.c.next_escalation_at)
        .limit(limit)
    ).all()
    return [_record(r) for r in rows]


def next_escalation_at(conn: sa.Connection) -> float | None:
    value = conn.execute(
        sa.select(sa.func.min(incidents.c.next_escalation_at)).where(
            incidents.c.state.in_(("opened", "escalated"))
        )
    ).scalar()
    return None if value is None else float(value)


def open_or_recent_incidents(conn: sa.Connection, since: float) -> list[IncidentRecord]:
    rows = conn.execute(
        sa.select(incidents).where(
            sa.or_(incidents.c.state != "resolved", incidents.c.updated_at >= since)
        )
    ).all()
    return [_record(r) for r in rows]


def timeline(conn: sa.Connection, incident_id: str) -> list[TimelineEntry]:
    rows = conn.execute(
        sa.select(incident_events)
        .where(incident_events.c.incident_id == incident_id)
        .order_by(incident_events.c.event_id)
    ).all()
    return [TimelineEntry(at=r.at, event=r.event, actor=r.actor, detail=r.detail) for r in rows]
