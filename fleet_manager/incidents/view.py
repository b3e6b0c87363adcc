"""What responders are sent: the wire form of an incident's current state (pure)."""

from __future__ import annotations

import hashlib
from uuid import UUID

from fleet_manager.store.incident_store import IncidentRecord
from protocol.messages import EscalationInfo, IncidentMessage


def incident_id_for_alert(alert_id: str) -> str:
    """Derived from the alert id, so every instance and every retry names the same incident."""
    return "inc-" + hashlib.sha256(alert_id.encode()).hexdigest()[:16]


def incident_message(record: IncidentRecord) -> IncidentMessage:
    status = record.status
    esc = status.escalation
    return IncidentMessage(
        incident_id=record.incident_id,
        version=record.version,
        state=status.state,
        kind=record.kind,
        drill=record.drill,
        region=record.region,
        facility=record.facility_id,
        location=record.location_id,
        location_name=record.location_name,
        device_id=record.device_id,
        alert_id=UUID(record.alert_id),
        alert_ts=record.alert_ts,
        opened_at=record.opened_at,
        updated_at=record.updated_at,
        route=record.route,
        escalation=EscalationInfo(
            level=esc.level,
            team=esc.team,
            notified=list(esc.notified),
            next_at=esc.next_at,
            exhausted=esc.exhausted,
        ),
        acknowledged_by=status.acknowledged_by,
        resolved_by=status.resolved_by,
        report_entries=record.report_entries,
    )
