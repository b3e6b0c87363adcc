"""Deciding a new incident (pure): where, which route, which team first.

Help, drill and tamper alerts come from kiosks; supervision findings (a kiosk offline too long,
stale content) come from the fleet manager itself; reports come from the landing page. All open
incidents the same way.
"""

from __future__ import annotations

from dataclasses import replace

from fleet_manager.incidents.lifecycle import TimelineEntry, open_incident
from fleet_manager.incidents.view import incident_id_for_alert
from fleet_manager.routing.policy import IncidentFacts, RoutingPolicy, route_incident
from fleet_manager.store.incident_store import IncidentRecord
from fleet_manager.store.registry import DevicePlacement
from fleet_manager.supervision.findings import Finding
from protocol.messages import AlertMessage


def _opened(
    *,
    facts: IncidentFacts,
    alert_id: str,
    alert_ts: float,
    location_name: str | None,
    device_id: str,
    policy: RoutingPolicy,
    incident_id: str,
    now: float,
) -> tuple[IncidentRecord, tuple[TimelineEntry, ...]]:
    route = route_incident(policy, facts)
    transition = open_incident(route.chain, route.name, device_id, now)
    record = IncidentRecord(
        incident_id=incident_id,
        alert_id=alert_id,
        version=1,
        kind=facts.kind,
        drill=facts.drill,
        region=facts.region,
        facility_id=facts.facility,
        location_id=facts.location,
        location_name=location_name,
        device_id=device_id,
        alert_ts=alert_ts,
        opened_at=now,
        updated_at=now,
        route=route.name,
        chain=route.chain,
        status=transition.status,
    )
    return record, transition.timeline


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
    record, timeline = _opened(
        facts=facts,
        alert_id=str(alert.alert_id),
        alert_ts=alert.ts,
        location_name=location_name,
        device_id=device_id,
        policy=policy,
        incident_id=incident_id,
        now=now,
    )
    return record, (*timeline, *notes)


def decide_supervision_incident(
    *,
    finding: Finding,
    placement: DevicePlacement | None,
    policy: RoutingPolicy,
    default_region: str,
    now: float,
) -> tuple[IncidentRecord, tuple[TimelineEntry, ...]]:
    """The incident of kind ``supervision`` a finding opens; the first entry says why."""
    if placement is None:
        region, facility, location, name = default_region, None, "unplaced", None
    else:
        region, facility = placement.region, placement.facility_id
        location, name = placement.location_id, placement.location_name
    facts = IncidentFacts(
        kind="supervision", region=region, facility=facility, location=location, drill=False
    )
    record, timeline = _opened(
        facts=facts,
        alert_id=finding.alert_id,
        alert_ts=finding.since,
        location_name=name,
        device_id=finding.device_id,
        policy=policy,
        incident_id=incident_id_for_alert(finding.alert_id),
        now=now,
    )
    return record, (TimelineEntry(now, "supervision", "system", finding.detail()), *timeline)


# Incidents opened by a report have no kiosk: this stands where the device id goes.
REPORT_SOURCE = "landing-page"


def decide_report_incident(
    *,
    report_id: str,
    region: str,
    facility: str | None,
    location: str,
    location_name: str | None,
    received_at: float,
    policy: RoutingPolicy,
    now: float,
) -> tuple[IncidentRecord, tuple[TimelineEntry, ...]]:
    """The incident of kind ``report`` a new report opens: routed and escalated like a help
    alert. Its record and messages say that a report exists, never what it says."""
    facts = IncidentFacts(
        kind="report", region=region, facility=facility, location=location, drill=False
    )
    record, timeline = _opened(
        facts=facts,
        alert_id=report_id,
        alert_ts=received_at,
        location_name=location_name,
        device_id=REPORT_SOURCE,
        policy=policy,
        incident_id=incident_id_for_alert(report_id),
        now=now,
    )
    received = TimelineEntry(now, "report_received", REPORT_SOURCE, {"entry": 1})
    return replace(record, report_entries=1), (received, *timeline)
