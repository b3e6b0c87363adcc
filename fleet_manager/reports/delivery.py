"""Putting reports on incidents (the fleet manager's side).

The landing page stores sealed entries; a fleet manager's worker picks up the undelivered ones
every half second. The first entry opens an incident of kind ``report`` (routed and escalated
like a help alert, its id derived from the report id); each later entry raises the incident's
``report_entries`` and publishes a new version, so responders see an addition at once. Both
steps are idempotent, so several fleet managers may race on the same entry.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from fleet_manager.incidents.lifecycle import on_report_addition
from fleet_manager.incidents.opening import REPORT_SOURCE, decide_report_incident
from fleet_manager.metrics import Counters
from fleet_manager.routing.policy import RoutingPolicy
from fleet_manager.store import incident_store, registry, report_store
from fleet_manager.store.incident_store import IncidentRecord
from fleet_manager.store.report_store import ReportRow
from transport.log import get_logger

log = get_logger("fleet_manager.reports")

MAX_VERSION_RETRIES = 5


class ReportDelivery:
    def __init__(
        self,
        engine: sa.Engine,
        policy: Callable[[], RoutingPolicy],
        publish: Callable[[IncidentRecord], None],
        counters: Counters,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.publish = publish
        self.counters = counters

    def deliver(self, now: float) -> float | None:
        """Deliver what is waiting; returns the earliest escalation time of incidents opened."""
        with self.engine.connect() as conn:
            waiting = report_store.undelivered(conn)
        next_at: float | None = None
        for report, seq in waiting:
            if seq == 1:
                delivered, at = self._open(report, now)
                if at is not None:
                    next_at = at if next_at is None else min(next_at, at)
            else:
                delivered, at = self._add(report, seq, now)
                if at is not None:
                    next_at = at if next_at is None else min(next_at, at)
            if delivered:
                with self.engine.begin() as conn:
                    report_store.mark_delivered(conn, report.report_id, seq, now)
        return next_at

    def _open(self, report: ReportRow, now: float) -> tuple[bool, float | None]:
        try:
            with self.engine.begin() as conn:
                if incident_store.find_alert_incident(conn, report.report_id) is not None:
                    return True, None
                location = registry.get_location(conn, report.location_id)
                record, timeline = decide_report_incident(
                    report_id=report.report_id,
                    region=report.region,
                    facility=report.facility_id,
                    location=report.location_id,
                    location_name=None if location is None else location.name,
                    received_at=report.created_at,
                    policy=self.policy(),
                    now=now,
                )
                incident_store.insert_opened(
                    conn, record, timeline, source="landing", received_at=now
                )
        except sa.exc.IntegrityError:
            return True, None  # another instance opened it first
        self.publish(record)
        self.counters.inc("report_incidents_opened")
        log.info(
            "report_incident_opened",
            incident_id=record.incident_id,
            region=record.region,
            location=record.location_id,
            route=record.route,
            team=record.status.escalation.team,
        )
        return True, record.status.escalation.next_at

    def _add(self, report: ReportRow, seq: int, now: float) -> tuple[bool, float | None]:
        """(delivered, the escalation time if the addition reopened the incident)."""
        for _ in range(MAX_VERSION_RETRIES):
            with self.engine.begin() as conn:
                record = incident_store.get_incident(conn, report.incident_id)
                if record is None:
                    return False, None  # its first entry is not delivered yet: next round
                if record.report_entries >= seq:
                    return True, None
                step = on_report_addition(record.chain, record.status, seq, REPORT_SOURCE, now)
                updated = incident_store.record_report_entries(
                    conn, record, seq, step.status, step.timeline, now
                )
            if updated is not None:
                self.publish(updated)
                reopened = not record.status.is_open
                self.counters.inc("report_additions_delivered")
                if reopened:
                    self.counters.inc("report_incidents_reopened")
                log.info(
                    "report_addition_delivered",
                    incident_id=updated.incident_id,
                    entry=seq,
                    reopened=reopened,
                )
                return True, updated.status.escalation.next_at if reopened else None
        log.warning("report_addition_conflict", incident_id=report.incident_id, entry=seq)
        return False, None
