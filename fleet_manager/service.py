"""The fleet manager process: consume from the fleet broker, decide, store, publish.

One worker thread applies every change in order (alerts, responder actions and statuses from a
queue, escalations when due, heartbeats in batches), so the store sees one writer per instance.
Several instances can run against one broker and one database: they share the load through a
``$share`` subscription, alerts dedup on ``alert_id`` (a unique key), and incident updates are
version-checked so only one instance wins each transition.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from content_repo.keys import load_signer
from content_repo.repository import refresh_online
from content_repo.tuf_types import Signer
from fleet_manager.accounts.session_store import purge_sessions
from fleet_manager.config import FleetConfig
from fleet_manager.enrolment.crl_refresh import CHECK_INTERVAL_S as CRL_CHECK_INTERVAL_S
from fleet_manager.enrolment.crl_refresh import refresh_if_due
from fleet_manager.enrolment.service import EnrolmentService
from fleet_manager.incidents.lifecycle import (
    ActionRefused,
    TimelineEntry,
    is_repeated_note,
    on_escalation_timer,
    on_responder_action,
)
from fleet_manager.incidents.opening import decide_new_incident, decide_supervision_incident
from fleet_manager.incidents.view import incident_id_for_alert, incident_message
from fleet_manager.ingest import (
    Inbound,
    InboundAlert,
    InboundCommandResult,
    InboundEvent,
    InboundRenewRequest,
    InboundResponderAction,
    InboundStatus,
    InboundTelemetry,
    classify,
)
from fleet_manager.metrics import Counters, Histogram
from fleet_manager.reports.delivery import ReportDelivery
from fleet_manager.rollouts import service as rollout_service
from fleet_manager.routing import policy_store
from fleet_manager.routing.policy import PolicyError, RoutingPolicy, load_policy
from fleet_manager.store import (
    console_requests,
    device_events,
    engagement,
    fleet_state,
    incident_store,
    metric_snapshots,
    registry,
    supervision_queries,
)
from fleet_manager.store.console_requests import INCIDENT_REQUESTS, ConsoleRequest
from fleet_manager.store.database import migrate, open_engine
from fleet_manager.store.fleet_state import Heartbeat
from fleet_manager.store.incident_store import IncidentRecord
from fleet_manager.supervision.findings import Finding, findings
from protocol import topics
from protocol.content_delivery import sign_nudge
from protocol.enrolment import RenewResponse
from protocol.envelope import Command, sign_command
from protocol.errors import ProtocolError
from protocol.messages import ResponderActionKind
from transport.log import get_logger
from transport.mqtt import BrokerEndpoint, LinkOptions, MqttLink

log = get_logger("fleet_manager")

T = TypeVar("T")

ESCALATION_POLL_S = 1.0
HOUSEKEEPING_INTERVAL_S = 2.0
# How often the worker looks for requests from the console (acknowledgements above all).
CONSOLE_POLL_S = 0.5
# A request claimed by an instance that died is handed to another after this long.
CONSOLE_CLAIM_STALE_S = 60.0
RESPONDER_ACTIONS: dict[str, ResponderActionKind] = {
    "ack": "ack",
    "resolve": "resolve",
    "note": "note",
}

MAX_VERSION_RETRIES = 5
REPUBLISH_WINDOW_S = 3600.0


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: the command signing key must be an Ed25519 private key")
    return key


class FleetManager:
    def __init__(self, config: FleetConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.counters = Counters()
        # Kiosk alert arrival at this process → incident handed to the broker for responders.
        self.alert_latency = Histogram()
        self.policy: RoutingPolicy = load_policy(
            config.routing_policy.read_text(), str(config.routing_policy)
        )
        self._signing_key = load_signing_key(config.command_signing_key)
        self.engine = open_engine(config.database_url)
        migrate(self.engine)
        # A policy saved from the console (a newer version in the store) wins over the file.
        self._policy_version = 0
        self._reload_policy()
        # Renewals need the issuing CA; without an 'enrolment' section they are refused.
        self.enrolment = (
            EnrolmentService.from_config(config, self.engine, self.counters, clock)
            if config.enrolment is not None
            else None
        )
        # (priority, arrival order, arrival time, message): alerts and responder actions
        # overtake routine traffic.
        self._inbox: queue.PriorityQueue[tuple[int, int, float, Inbound]] = queue.PriorityQueue()
        self._arrivals = itertools.count()
        self._heartbeats: dict[str, Heartbeat] = {}
        self._heartbeats_lock = threading.Lock()
        self._relocations_sent: dict[tuple[str, str], float] = {}
        self._content_keys: tuple[Signer, Signer] | None = (
            (
                load_signer(config.content.snapshot_key, None),
                load_signer(config.content.timestamp_key, None),
            )
            if config.content is not None
            else None
        )
        self._nudged: dict[str, tuple[str, str, float, str]] = {}
        # Commands sent for the console (cid → type), so their results reach the timeline.
        self._console_commands: dict[str, str] = {}
        self._content_reports: list[rollout_service.KioskEvent] = []
        self._stop = threading.Event()
        self._connected_again = threading.Event()
        self._worker = threading.Thread(target=self._work, name="fleet-worker", daemon=True)
        # Slow housekeeping (moves, rollouts, CRL and TUF re-signing) on its own thread: the
        # worker that handles alerts must never wait behind it.
        self._housekeeper = threading.Thread(
            target=self._housekeeping, name="fleet-housekeeping", daemon=True
        )
        self._reports_lock = threading.Lock()
        # Reports from the landing page become (or add to) incidents of kind "report".
        self.report_delivery = ReportDelivery(
            self.engine, lambda: self.policy, self.publish_incident, self.counters
        )
        self.link = MqttLink(
            BrokerEndpoint(config.broker.host, config.broker.port, config.broker.tls()),
            LinkOptions(
                client_id=config.identity,
                subscriptions=[
                    *((topics.shared(f), 1) for f in topics.FLEET_INGEST_FILTERS),
                    (topics.FLEET_ACK_FILTER, 1),
                ],
                name=config.identity,
            ),
            on_message=self._on_message,
            on_connect=lambda _session_present: self._connected_again.set(),
        )

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._worker.start()
        self._housekeeper.start()
        self.link.start()
        log.info(
            "fleet_manager_started", identity=self.config.identity, routes=len(self.policy.routes)
        )

    def stop(self) -> None:
        self._stop.set()
        self.link.stop()
        self._worker.join(timeout=10)
        self._housekeeper.join(timeout=10)
        self._flush_heartbeats()
        self.engine.dispose()

    # -- intake (link thread): classify, then hand over ----------------------------------

    def _on_message(self, topic: str, payload: bytes, qos: int) -> None:
        try:
            inbound = classify(topic, payload)
        except ProtocolError as exc:
            self.counters.inc("messages_rejected")
            log.warning("message_rejected", topic=topic, error=str(exc))
            return
        self.counters.inc("messages_ingested")
        if isinstance(inbound, InboundTelemetry):
            m = inbound.message
            beat = Heartbeat(inbound.device_id, m.ts, m.seq, m.outbox_pending, m.app, m.content)
            with self._heartbeats_lock:
                self._heartbeats[inbound.device_id] = beat
            return
        urgent = isinstance(inbound, InboundAlert | InboundResponderAction)
        self._inbox.put((0 if urgent else 1, next(self._arrivals), time.perf_counter(), inbound))

    # -- the worker -----------------------------------------------------------------------

    def _work(self) -> None:
        """Alerts and acknowledgements first, then statuses; timers and heartbeat batches when
        due. The escalation timer is re-read from the store every second, so incidents opened
        by an instance that has since died are escalated by the survivors."""
        now = self.clock()
        next_flush = now + self.config.telemetry_flush_s
        next_poll = now
        next_escalation: float | None = None
        next_console = now
        while not self._stop.is_set():
            now = self.clock()
            if self._connected_again.is_set():
                self._connected_again.clear()
                self._safe(self._republish_recent)
            if now >= next_console:
                self._safe(partial(self._apply_console_requests, now))
                report_timer = self._safe(partial(self.report_delivery.deliver, now))
                if report_timer is not None:
                    next_escalation = min(next_escalation or report_timer, report_timer)
                next_console = now + CONSOLE_POLL_S
            if now >= next_poll:
                next_escalation = self._safe(self._next_escalation_at)
                next_poll = now + ESCALATION_POLL_S
            if next_escalation is not None and now >= next_escalation:
                self._safe(partial(self._run_escalations, now))
                next_escalation = self._safe(self._next_escalation_at)
            if now >= next_flush:
                self._safe(self._flush_heartbeats)
                next_flush = now + self.config.telemetry_flush_s
            deadline = min(next_flush, next_poll, next_console, next_escalation or next_poll)
            try:
                _, _, arrived, inbound = self._inbox.get(timeout=min(max(0.0, deadline - now), 0.5))
            except queue.Empty:
                continue
            new_timer = self._safe(partial(self._handle, inbound, arrived))
            if new_timer is not None:
                next_escalation = min(next_escalation or new_timer, new_timer)

    def _housekeeping(self) -> None:
        next_crl_check = self.clock()
        next_supervision = self.clock() + self.config.supervision.check_interval_s
        while not self._stop.is_set():
            now = self.clock()
            self._safe(self._reload_policy)
            self._safe(partial(self._announce_moves, now))
            self._safe(partial(self._tick_rollouts, now))
            self._safe(partial(self._save_metrics, now))
            if now >= next_supervision:
                next_supervision = now + self.config.supervision.check_interval_s
                self._safe(partial(self._supervise, now))
            if now >= next_crl_check:
                next_crl_check = now + CRL_CHECK_INTERVAL_S
                self._safe(self._refresh_crl)
                self._safe(self._refresh_content_metadata)
                self._safe(partial(self._purge_sessions, now))
            self._stop.wait(HOUSEKEEPING_INTERVAL_S)

    def _safe(self, fn: Callable[[], T]) -> T | None:
        """Run one unit of work; a database or bug error is logged and counted, and the loop
        goes on. Nothing is lost: kiosks resend unconfirmed alerts, and timers are in the store."""
        try:
            return fn()
        except Exception:
            self.counters.inc("worker_errors")
            log.exception("worker_error")
            return None

    def _handle(self, inbound: Inbound, arrived: float | None = None) -> float | None:
        """Apply one message; returns the escalation time of an incident it opened, if any."""
        if isinstance(inbound, InboundAlert):
            return self.handle_alert(inbound, arrived)
        if isinstance(inbound, InboundResponderAction):
            self.handle_responder_action(inbound)
        elif isinstance(inbound, InboundStatus):
            self.handle_status(inbound)
        elif isinstance(inbound, InboundRenewRequest):
            self.handle_renewal(inbound)
        elif isinstance(inbound, InboundEvent):
            log.info("device_event", device=inbound.device_id, what=inbound.message.event)
            if inbound.message.event.startswith("content_"):
                self.handle_content_report(inbound)
        elif isinstance(inbound, InboundCommandResult):
            self.handle_command_result(inbound)
        return None

    def handle_command_result(self, inbound: InboundCommandResult) -> None:
        """A failure is logged; the result of a command the console asked for (identify, drill)
        goes on the kiosk's timeline either way."""
        m = inbound.message
        kind = self._console_commands.pop(inbound.cid, None)
        if not m.ok:
            log.warning(
                "command_failed", device=inbound.device_id, cid=inbound.cid, detail=m.detail
            )
        if kind is None and m.ok:
            return
        with self.engine.begin() as conn:
            device_events.record(
                conn,
                inbound.device_id,
                m.ts,
                "command_done" if m.ok else "command_failed",
                inbound.device_id,
                {"type": kind, "cid": inbound.cid, "detail": m.detail},
            )

    # -- alerts ---------------------------------------------------------------------------

    def handle_alert(self, inbound: InboundAlert, arrived: float | None = None) -> float | None:
        """Dedup, route, tell the responders, record, confirm to the kiosk.

        The incident is published *before* the transaction commits, so responders do not wait
        for the disk; the kiosk is confirmed only *after* it commits. If this process dies in
        between, the kiosk resends, the alert is handled again under the same incident id and
        version, and responders (who keep the highest version per incident) see one incident.
        """
        msg = inbound.message
        alert_id = str(msg.alert_id)
        now = self.clock()
        incident_id = incident_id_for_alert(alert_id)
        record: IncidentRecord | None = None
        published_at = None
        try:
            with self.engine.begin() as conn:
                if incident_store.find_alert_incident(conn, alert_id) is not None:
                    incident_store.count_duplicate(conn, alert_id)
                else:
                    record, timeline = decide_new_incident(
                        alert=msg,
                        device_id=inbound.device_id,
                        placement=registry.placement(conn, inbound.device_id),
                        policy=self.policy,
                        default_region=self.config.default_region,
                        incident_id=incident_id,
                        now=now,
                    )
                    self.publish_incident(record)
                    published_at = time.perf_counter()
                    self._record_new(conn, inbound, record, timeline, now)
        except sa.exc.IntegrityError:
            record = None  # another instance recorded it first
        self.send_command(inbound.device_id, "alert_received", {"alert_id": alert_id})
        if record is None:
            self.counters.inc("alerts_duplicate")
            log.info(
                "alert_duplicate", alert_id=alert_id, device=inbound.device_id, attempt=msg.attempt
            )
            return None
        self.counters.inc("incidents_opened")
        if arrived is not None and published_at is not None:
            self.alert_latency.observe(published_at - arrived)
        log.info(
            "incident_opened",
            incident_id=incident_id,
            alert_id=alert_id,
            device=inbound.device_id,
            kind=msg.kind,
            drill=msg.drill,
            route=record.route,
            team=record.status.escalation.team,
            # Arrival at this process → handed to the broker for responders (milliseconds).
            ingest_ms=None
            if arrived is None or published_at is None
            else round((published_at - arrived) * 1000, 3),
        )
        return record.status.escalation.next_at

    def _record_new(
        self,
        conn: sa.Connection,
        inbound: InboundAlert,
        record: IncidentRecord,
        timeline: tuple[TimelineEntry, ...],
        now: float,
    ) -> None:
        msg = inbound.message
        incident_id = record.incident_id
        incident_store.insert_alert(
            conn,
            alert_id=str(msg.alert_id),
            device_id=inbound.device_id,
            kind=msg.kind,
            source=msg.source,
            reported_location=msg.location,
            alert_ts=msg.ts,
            received_at=now,
            incident_id=incident_id,
        )
        incident_store.insert_incident(conn, record, timeline)
        if msg.kind == "help" and not msg.drill:
            # Aggregate only: a count per location and day (a kiosk press has no language).
            engagement.count(conn, engagement.day_of(now), record.location_id, "help", None)
        device_events.record(
            conn,
            inbound.device_id,
            now,
            "alert",
            inbound.device_id,
            {
                "incident_id": incident_id,
                "kind": msg.kind,
                "drill": msg.drill,
                "source": msg.source,
            },
        )

    # -- responders -----------------------------------------------------------------------

    def handle_responder_action(self, inbound: InboundResponderAction) -> None:
        action = inbound.message
        self.apply_responder_action(
            inbound.incident_id,
            action.action,
            action.responder,
            note=action.note,
            sent_at=action.ts,
            region=inbound.region,
        )

    def apply_responder_action(
        self,
        incident_id: str,
        action: ResponderActionKind,
        responder: str,
        *,
        note: str | None,
        sent_at: float,
        region: str | None,
    ) -> tuple[bool, str]:
        """Acknowledge, resolve or annotate an incident, from a responder (over MQTT, checked
        against the region it came from) or from the console (``region`` None). Returns
        (refused, outcome); the update is published to the region's responders."""
        for _ in range(MAX_VERSION_RETRIES):
            now = self.clock()
            with self.engine.begin() as conn:
                record = incident_store.get_incident(conn, incident_id)
                if record is None or (region is not None and record.region != region):
                    self.counters.inc("responder_actions_rejected")
                    log.warning(
                        "responder_action_rejected",
                        incident_id=incident_id,
                        region=region,
                        error="no such incident in this region",
                    )
                    return True, "no such incident"
                if action == "note" and is_repeated_note(
                    incident_store.timeline(conn, record.incident_id), responder, note, sent_at
                ):
                    return False, "note already recorded"
                try:
                    transition = on_responder_action(
                        record.status, action, responder, now, note, sent_at
                    )
                except ActionRefused as exc:
                    self.counters.inc("responder_actions_rejected")
                    log.warning(
                        "responder_action_rejected", incident_id=record.incident_id, error=str(exc)
                    )
                    return True, str(exc)
                if transition is None:
                    return False, f"already {record.status.state}"
                updated = incident_store.update_status(
                    conn, record, transition.status, transition.timeline, now
                )
            if updated is not None:
                self.counters.inc(f"responder_{action}")
                log.info(
                    "incident_" + action,
                    incident_id=updated.incident_id,
                    responder=responder,
                    state=updated.status.state,
                )
                self.publish_incident(updated)
                return False, updated.status.state
        log.error("responder_action_conflict", incident_id=incident_id)
        return True, "the incident kept changing; try again"

    # -- the console ----------------------------------------------------------------------

    def _apply_console_requests(self, now: float) -> None:
        """Apply what the console and the API asked for (see ``store.console_requests``)."""
        claimed = console_requests.claim_queued(
            self.engine, self.config.identity, now, stale_before=now - CONSOLE_CLAIM_STALE_S
        )
        for request in claimed:
            refused, outcome = self._apply_console_request(request)
            with self.engine.begin() as conn:
                console_requests.finish(
                    conn, request.request_id, refused=refused, outcome=outcome, now=self.clock()
                )
            self.counters.inc("console_requests_" + ("refused" if refused else "done"))
            log.info(
                "console_request_applied",
                request_id=request.request_id,
                kind=request.kind,
                actor=request.actor,
                refused=refused,
            )

    def _apply_console_request(self, request: ConsoleRequest) -> tuple[bool, str]:
        if request.kind in INCIDENT_REQUESTS:
            action = RESPONDER_ACTIONS[request.kind]
            return self.apply_responder_action(
                request.target,
                action,
                request.actor,
                note=request.note,
                sent_at=request.created_at,
                region=None,
            )
        with self.engine.connect() as conn:
            row = fleet_state.device_row(conn, request.target)
        if row is None or row.lifecycle != "active":
            return True, "no such active kiosk"
        cid = self.send_command(request.target, request.kind, {"requested_by": request.actor})
        self._console_commands[cid] = request.kind
        with self.engine.begin() as conn:
            device_events.record(
                conn,
                request.target,
                self.clock(),
                "command_sent",
                request.actor,
                {"type": request.kind, "cid": cid},
            )
        return False, "sent" if row.online else "sent (the kiosk is offline: it gets it on return)"

    # -- escalation -----------------------------------------------------------------------

    def _next_escalation_at(self) -> float | None:
        with self.engine.connect() as conn:
            return incident_store.next_escalation_at(conn)

    def _run_escalations(self, now: float) -> None:
        with self.engine.connect() as conn:
            due = incident_store.due_escalations(conn, now)
        for record in due:
            transition = on_escalation_timer(record.chain, record.status, now)
            if transition is None:
                continue
            with self.engine.begin() as conn:
                updated = incident_store.update_status(
                    conn, record, transition.status, transition.timeline, now
                )
            if updated is None:
                continue  # another instance escalated it
            esc = updated.status.escalation
            self.counters.inc("escalations")
            log.warning(
                "incident_exhausted" if esc.exhausted else "incident_escalated",
                incident_id=updated.incident_id,
                level=esc.level,
                team=esc.team,
            )
            self.publish_incident(updated)

    # -- kiosk health ---------------------------------------------------------------------

    def handle_status(self, inbound: InboundStatus) -> None:
        m = inbound.message
        online = m.state == "online"
        with self.engine.begin() as conn:
            applied = fleet_state.record_status(
                conn,
                inbound.device_id,
                online,
                m.session,
                m.ts or self.clock(),
                m.app,
                m.content,
                m.location,
            )
            if applied:
                device_events.record(
                    conn,
                    inbound.device_id,
                    m.ts or self.clock(),
                    "online" if online else "offline",
                    inbound.device_id,
                    {"app": m.app, "content": m.content} if online else {},
                )
        if applied:
            log.info("kiosk_online" if online else "kiosk_offline", device=inbound.device_id)

    def _flush_heartbeats(self) -> None:
        with self._heartbeats_lock:
            beats, self._heartbeats = list(self._heartbeats.values()), {}
        if beats:
            with self.engine.begin() as conn:
                fleet_state.record_heartbeats(conn, beats)

    # -- output ---------------------------------------------------------------------------

    def _refresh_content_metadata(self) -> None:
        """Re-sign the TUF timestamp (and snapshot) before they expire: kiosks refuse new
        content on expired metadata."""
        if self._content_keys is None or self.config.content is None:
            return
        snapshot, timestamp = self._content_keys
        refresh_online(
            self.config.content.repository,
            snapshot=snapshot,
            timestamp=timestamp,
            now=datetime.now(UTC),
        )

    def _purge_sessions(self, now: float) -> None:
        """Forget console sessions that have timed out (they are refused anyway)."""
        with self.engine.begin() as conn:
            purged = purge_sessions(conn, now=now, policy=self.config.console.session_policy())
        if purged:
            log.info("sessions_purged", count=purged)

    def _refresh_crl(self) -> None:
        """Re-publish the broker's CRL before it expires (every certificate would be refused)."""
        if self.enrolment is None or self.config.revocation is None:
            return
        refresh_if_due(self.config.revocation.crl_dir, self.enrolment.ca, datetime.now(UTC))

    def _announce_moves(self, now: float) -> None:
        """Tell online kiosks that were moved where they are now (signed "relocate")."""
        with self.engine.connect() as conn:
            moved = registry.moved_kiosks(conn)
        for kiosk in moved:
            sent_at = self._relocations_sent.get((kiosk.device_id, kiosk.location_id))
            if sent_at is not None and now - sent_at < self.config.command_ttl_s:
                continue
            self.send_command(kiosk.device_id, "relocate", kiosk.command_body())
            self._relocations_sent[(kiosk.device_id, kiosk.location_id)] = now
            log.info("relocate_sent", device=kiosk.device_id, location=kiosk.location_id)

    def handle_content_report(self, inbound: InboundEvent) -> None:
        """Kept for the next rollout tick, which applies them all in one write."""
        m = inbound.message
        with self._reports_lock:
            self._content_reports.append(
                rollout_service.KioskEvent(inbound.device_id, m.event, dict(m.detail), m.ts)
            )

    def _tick_rollouts(self, now: float) -> None:
        """Apply kiosk reports, advance active rollouts, keep each channel's nudge current."""
        with self._reports_lock:
            reports, self._content_reports = self._content_reports, []
        if reports:
            for ignored in rollout_service.record_reports(self.engine, reports, now):
                if ignored is not None:
                    self.counters.inc(f"rollout_reports_ignored.{ignored}")
            with self.engine.begin() as conn:
                for report in reports:
                    device_events.record(
                        conn,
                        report.device_id,
                        report.at,
                        report.event,
                        report.device_id,
                        report.detail,
                    )
        for row in rollout_service.tick(self.engine, now):
            nudge = rollout_service.nudge_for(row, now)
            key = (nudge.rollout_id, nudge.version, nudge.cutoff, row.rollout.state)
            if self._nudged.get(row.channel) == key:
                continue
            self.link.publish(
                topics.content_channel(row.channel),
                sign_nudge(nudge, self._signing_key),
                qos=1,
                retain=True,
            )
            self._nudged[row.channel] = key
            log.info(
                "content_nudge",
                channel=row.channel,
                rollout=row.rollout_id,
                state=row.rollout.state,
                cutoff=round(nudge.cutoff, 4),
            )

    def handle_renewal(self, inbound: InboundRenewRequest) -> None:
        """Sign a new certificate for the kiosk whose certificate the broker just checked."""
        request = inbound.message
        if self.enrolment is None:
            self.counters.inc("renewal_refused.unavailable")
            log.warning("renewal_refused", device=inbound.device_id, reason="unavailable")
            response = RenewResponse(
                request_id=request.request_id,
                error="renewal_unavailable",
                message="this fleet manager cannot sign certificates",
            )
        else:
            response = self.enrolment.renew(inbound.device_id, request)
        self.link.publish(topics.device_cert_issued(inbound.device_id), response.to_bytes(), qos=1)

    def _reload_policy(self) -> None:
        """Use the routing policy version saved last from the console, once it appears. It was
        validated before it was saved; one that still fails to load is refused and counted,
        and the policy in force stays (alerts must keep reaching someone)."""
        with self.engine.connect() as conn:
            version = policy_store.current_version(conn)
            if version == self._policy_version:
                return
            stored = policy_store.current(conn, self.config.routing_policy)
        self._policy_version = version
        try:
            policy = load_policy(stored.policy_yaml, f"routing policy version {stored.version}")
        except PolicyError as exc:
            self.counters.inc("routing_policy_refused")
            log.error("routing_policy_refused", version=stored.version, error=str(exc))
            return
        self.policy = policy
        log.info(
            "routing_policy_loaded",
            version=stored.version,
            saved_by=stored.saved_by,
            routes=len(policy.routes),
        )

    def _save_metrics(self, now: float) -> None:
        """This instance's counters and latency histogram, for the API's /metrics."""
        with self.engine.begin() as conn:
            metric_snapshots.save(
                conn,
                self.config.identity,
                now,
                self.counters.snapshot(),
                {"alert_ingest_seconds": self.alert_latency.snapshot()},
            )

    def _supervise(self, now: float) -> None:
        """Open a ``supervision`` incident for each kiosk needing attention (once per episode,
        whichever instance gets there first)."""
        with self.engine.connect() as conn:
            found = findings(
                supervision_queries.kiosk_health(conn),
                supervision_queries.channel_states(conn),
                self.config.supervision.rules(),
                now,
            )
        for finding in found:
            self._open_supervision_incident(finding, now)

    def _open_supervision_incident(self, finding: Finding, now: float) -> None:
        try:
            with self.engine.begin() as conn:
                if incident_store.find_alert_incident(conn, finding.alert_id) is not None:
                    return
                placement = registry.placement(conn, finding.device_id)
                record, timeline = decide_supervision_incident(
                    finding=finding,
                    placement=placement,
                    policy=self.policy,
                    default_region=self.config.default_region,
                    now=now,
                )
                incident_store.insert_opened(
                    conn, record, timeline, source="supervision", received_at=now
                )
                device_events.record(
                    conn,
                    finding.device_id,
                    now,
                    "supervision",
                    "system",
                    {**finding.detail(), "incident_id": record.incident_id},
                )
        except sa.exc.IntegrityError:
            return  # another instance opened it first
        self.counters.inc("supervision_incidents")
        log.warning(
            "supervision_incident",
            incident_id=record.incident_id,
            device=finding.device_id,
            reason=finding.reason,
            team=record.status.escalation.team,
        )
        self.publish_incident(record)

    def publish_incident(self, record: IncidentRecord) -> None:
        message = incident_message(record)
        topic = topics.responder_incident(record.region, record.incident_id)
        if not self.link.publish(topic, message.to_bytes(), qos=1, retain=True):
            # Republished on reconnect (see _republish_recent); the store has it.
            log.warning("incident_publish_deferred", incident_id=record.incident_id)

    def send_command(self, device_id: str, kind: str, body: dict[str, object]) -> str:
        now = self.clock()
        command = Command(
            cid=uuid.uuid4().hex[:20],
            type=kind,
            created=now,
            expires=now + self.config.command_ttl_s,
            device_id=device_id,
            body=body,
        )
        self.link.publish(
            topics.device_command(device_id, command.cid),
            sign_command(command, self._signing_key),
            qos=1,
            message_expiry_s=self.config.command_ttl_s,
        )
        return command.cid

    def _republish_recent(self) -> None:
        """After (re)connecting, publish the state of open and recently changed incidents, in
        case a publish was lost while the link was down. Retained and versioned: harmless twice."""
        since = self.clock() - REPUBLISH_WINDOW_S
        with self.engine.connect() as conn:
            records = incident_store.open_or_recent_incidents(conn, since)
        for record in records:
            self.publish_incident(record)
        if records:
            log.info("incidents_republished", count=len(records))


def serve(config: FleetConfig, stop: threading.Event) -> None:
    manager = FleetManager(config)
    manager.start()
    while not stop.wait(0.5):
        pass
    manager.stop()
    log.info("fleet_manager_stopped", counters=manager.counters.snapshot())
