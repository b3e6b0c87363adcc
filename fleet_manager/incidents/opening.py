"""Deciding a new incident from an alert (pure): where, which route, which team first."""

from __future__ import annotations

from fleet_manager.incidents.lifecycle import TimelineEntry, open_incident
from fleet_manager.routing.policy import IncidentFacts, RoutingPolicy, route_incident
from fleet_manager.store.incident_store import IncidentRecord
from fleet_manager.store.registry import DevicePlacement
from protocol.messages import AlertMessage


def decide_new_incident(
    *,
    alert: AlertMessage,
    device_id: str,
    placement: DevicePlacement | None,
    policy: RoutingPolicy,
    default_region: str,
    incident_id: str,
    now: float,
) -> tuple[IncidentRecord, tuple[TimelineEntry, ...]]:
    """The incident an alert opens, and its first timeline entries.

    The registry's placement wins over the location the kiosk reports (a disagreement is
    noted). A kiosk missing from the registry is never ignored: its alert is routed on the
    location it reports, in ``default_region``, and the timeline says so.
    """
    notes: list[TimelineEntry] = []
    reported = {"reported_location": alert.location}
    if placement is None:
        notes.append(TimelineEntry(now, "unregistered_device", "system", reported))
        region, facility, location, location_name = default_region, None, alert.location, None
    else:
        if alert.location != placement.location_id:
            notes.append(TimelineEntry(now, "location_mismatch", "system", reported))
        region, facility = placement.region, placement.facility_id
        location, location_name = placement.location_id, placement.location_name
    facts = IncidentFacts(
        kind=alert.kind, region=region, facility=facility, location=location, drill=alert.drill
    )
    route = route_incident(policy, facts)
    transition = open_incident(route.chain, route.name, device_id, now)
    record = IncidentRecord(
        incident_id=incident_id,
        alert_id=str(alert.alert_id),
        version=1,
        kind=alert.kind,
        drill=alert.drill,
        region=region,
        facility_id=facility,
        location_id=location,
        location_name=location_name,
        device_id=device_id,
        alert_ts=alert.ts,
        opened_at=now,
        updated_at=now,
        route=route.name,
        chain=route.chain,
        status=transition.status,
    )
    return record, (*transition.timeline, *notes)
