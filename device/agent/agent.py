"""The kiosk's device agent: durable alerts, status, heartbeat and signed commands over MQTT.

The UI (or the physical button, or the control socket) calls :meth:`KioskAgent.raise_alert`;
everything else runs on the agent's own threads and never blocks the caller on the network.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from device.agent import outbox_policy as policy
from device.agent.content_loop import ContentLoop
from device.agent.enrolment import TUF_ROOT_FILE
from device.agent.identity import DeviceProfile, load_profile, save_profile, tls_files
from device.agent.outbox_policy import OutboxEntry
from device.agent.outbox_store import OutboxStore
from device.agent.renewal import CHECK_INTERVAL_S, CertificateRenewer
from device.agent.tls_store import recover as recover_tls
from device.content.fetch import TufClient
from device.content.updater import ContentUpdater
from protocol import topics
from protocol.enrolment import RenewResponse
from protocol.envelope import Command, verify_command
from protocol.errors import ProtocolError
from protocol.messages import (
    AlertKind,
    AlertMessage,
    AlertSource,
    CommandResultMessage,
    EventMessage,
    StatusMessage,
    TelemetryMessage,
    decode,
)
from transport.log import get_logger
from transport.mqtt import BrokerEndpoint, LinkOptions, MqttLink, Will

log = get_logger("device.agent")

APP_VERSION = "0.1.0"


@dataclass(frozen=True)
class AgentSettings:
    heartbeat_interval_s: float = 60.0
    session_expiry_s: int = 7 * 24 * 3600
    keepalive_s: int = 30
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0


class KioskAgent:
    def __init__(
        self,
        state_dir: Path,
        settings: AgentSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_dir = state_dir
        self.settings = settings or AgentSettings()
        # Finish a certificate swap a power cut interrupted, before anything reads the files.
        recover_tls(tls_files(state_dir).certfile.parent)
        self.profile: DeviceProfile = load_profile(state_dir)
        self._renewer = CertificateRenewer(tls_files(state_dir).certfile.parent)
        self._next_renewal_check = 0.0
        self._clock = clock
        self._started_at = clock()
        self._session = uuid.uuid4().hex[:12]
        self._command_key = self.profile.command_public_key()
        self._outbox = OutboxStore(state_dir / "outbox.db")
        self._pending: dict[str, OutboxEntry] = {e.alert_id: e for e in self._outbox.unconfirmed()}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._seq = 0
        self._last_heartbeat_at: float | None = None
        # Monotonic, for the SMS fallback: how long the broker has been out of reach.
        self._disconnected_since: float | None = time.monotonic()
        self.counters: Counter[str] = Counter()
        self.content_version: str | None = None
        # Set by the UI: show who this kiosk is when the fleet asks ("identify").
        self.on_identify: Callable[[], None] | None = None
        # Set by the UI: show the new location's QR codes after a "relocate" command.
        self.on_relocated: Callable[[DeviceProfile], None] | None = None
        device_id = self.profile.device_id
        offline = StatusMessage(state="offline", session=self._session)
        self._link = MqttLink(
            BrokerEndpoint(
                self.profile.broker.host, self.profile.broker.port, tls_files(state_dir)
            ),
            LinkOptions(
                client_id=device_id,
                keepalive_s=self.settings.keepalive_s,
                session_expiry_s=self.settings.session_expiry_s,
                will=Will(topics.device_status(device_id), offline.to_bytes()),
                subscriptions=[
                    (topics.device_commands_filter(device_id), 1),
                    (topics.device_cert_issued(device_id), 1),
                    (topics.content_channel(self.profile.channel), 1),
                ],
                backoff_base_s=self.settings.backoff_base_s,
                backoff_cap_s=self.settings.backoff_cap_s,
                name=device_id,
            ),
            on_message=self._on_message,
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
        )
        self.content = self._content_loop()
        self._ticker = threading.Thread(
            target=self._tick_loop, name=f"{device_id}-tick", daemon=True
        )
        self._handlers: dict[str, Callable[[Command], str | None]] = {
            "alert_received": self._cmd_alert_received,
            "identify": self._cmd_identify,
            "drill": self._cmd_drill,
            "relocate": self._cmd_relocate,
        }

    def _content_loop(self) -> ContentLoop | None:
        """Signed content updates, if this kiosk was given a repository and its TUF root."""
        root = self.state_dir / TUF_ROOT_FILE
        if not self.profile.content_url or not root.is_file():
            log.info("content_updates_off", device=self.device_id, reason="no repository")
            return None
        client = TufClient(
            self.state_dir,
            self.profile.content_url,
            tls_files(self.state_dir).cafile,
            root.read_bytes(),
        )
        updater = ContentUpdater(self.state_dir, self.profile, client)
        self.content_version = updater.current_version()
        return ContentLoop(updater, self._command_key, self.report_event)

    def report_event(self, event: str, detail: dict[str, str]) -> None:
        """Publish an event (content applied, failed …) on the kiosk's event topic."""
        if event in ("content_applied", "content_rolled_back") and self.content is not None:
            self.content_version = self.content.updater.current_version()
        message = EventMessage(ts=self._clock(), event=event, detail=dict(detail))
        self._link.publish(topics.device_event(self.device_id), message.to_bytes(), qos=1)
        log.info("event_reported", device=self.device_id, what=event)

    @property
    def device_id(self) -> str:
        return self.profile.device_id

    @property
    def connected(self) -> bool:
        return self._link.connected

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        log.info("agent_started", device=self.device_id, pending=len(self._pending))
        self._link.start()
        self._ticker.start()
        if self.content is not None:
            self.content.start()

    def stop(self) -> None:
        """Say goodbye (retained offline status) and disconnect; the outbox stays on disk."""
        self._stop.set()
        self._wake.set()
        offline = StatusMessage(state="offline", session=self._session, ts=self._clock())
        self._link.publish(topics.device_status(self.device_id), offline.to_bytes(), retain=True)
        if self.content is not None:
            self.content.stop()
        self._link.stop()
        self._ticker.join(timeout=5)
        self._outbox.close()

    def wait_connected(self, timeout: float) -> bool:
        return self._link.wait_connected(timeout)

    # -- the alert path -------------------------------------------------------------------

    def raise_alert(self, kind: AlertKind, source: AlertSource) -> str:
        """Record the alert durably, then send it; returns its id at once.

        The alert is on disk before this returns, so a crash or a dead network cannot lose it;
        it is resent until the fleet manager confirms it with a signed command.
        """
        entry = OutboxEntry(
            alert_id=str(uuid.uuid4()),
            kind=kind,
            source=source,
            location=self.profile.location,
            created_at=self._clock(),
        )
        started = time.perf_counter()
        with self._lock:
            self._outbox.put(entry)
            self._pending[entry.alert_id] = entry
        stored = time.perf_counter()
        self._send(entry)
        self.counters[f"alerts_raised_{kind}"] += 1
        log.info(
            "alert_raised",
            device=self.device_id,
            alert_id=entry.alert_id,
            kind=kind,
            source=source,
            stored_ms=round((stored - started) * 1000, 3),
            connected=self._link.connected,
        )
        return entry.alert_id

    def _send(self, entry: OutboxEntry) -> None:
        message = AlertMessage.model_validate(
            {
                "alert_id": entry.alert_id,
                "kind": entry.kind,
                "source": entry.source,
                "location": entry.location,
                "ts": entry.created_at,
                "attempt": entry.attempts + 1,
            }
        )
        # Publish outside the lock: paho may write to the socket from this thread, and the
        # link thread needs the lock to confirm alerts. A duplicate send is harmless (dedup).
        if not self._link.publish(topics.device_alert(self.device_id), message.to_bytes(), qos=1):
            return
        with self._lock:
            current = self._pending.get(entry.alert_id)
            if current is None:  # confirmed meanwhile
                return
            sent = policy.mark_sent(current, self._clock())
            self._pending[entry.alert_id] = sent
            self._outbox.put(sent)
        self.counters["alert_sends"] += 1

    # -- MQTT callbacks (link thread) -----------------------------------------------------

    def _on_connect(self, session_present: bool) -> None:
        self._disconnected_since = None
        self._announce()
        with self._lock:
            for alert_id, entry in list(self._pending.items()):
                self._pending[alert_id] = policy.after_reconnect(entry)
        self._wake.set()

    def _announce(self) -> None:
        """The retained birth message: online, this session, versions, where it serves."""
        birth = StatusMessage(
            state="online",
            session=self._session,
            app=APP_VERSION,
            content=self.content_version,
            ts=self._clock(),
            location=self.profile.location,
        )
        self._link.publish(topics.device_status(self.device_id), birth.to_bytes(), retain=True)

    def _on_disconnect(self) -> None:
        self._disconnected_since = time.monotonic()

    def _on_message(self, topic: str, payload: bytes, qos: int) -> None:
        try:
            parsed = topics.parse_topic(topic)
        except ProtocolError as exc:
            self.counters["messages_rejected"] += 1
            log.warning("message_rejected", device=self.device_id, error=str(exc))
            return
        if parsed.kind is topics.TopicKind.CONTENT:
            if self.content is not None and parsed.channel == self.profile.channel:
                self.content.nudge(payload)
            return
        if parsed.kind is topics.TopicKind.CERT_ISSUED and parsed.device_id == self.device_id:
            self._on_certificate(payload)
            return
        if parsed.cid is None or parsed.device_id != self.device_id:
            self.counters["messages_rejected"] += 1
            log.warning(
                "message_rejected", device=self.device_id, topic=topic, error="not a command"
            )
            return
        try:
            command = verify_command(
                payload, self._command_key, device_id=self.device_id, now=self._clock()
            )
            if command.cid != parsed.cid:
                raise ProtocolError(f"command id {command.cid} does not match its topic")
        except ProtocolError as exc:
            self.counters["commands_rejected"] += 1
            log.warning("command_rejected", device=self.device_id, cid=parsed.cid, error=str(exc))
            self._reply(parsed.cid, ok=False, detail=str(exc))
            return
        handler = self._handlers.get(command.type, self._cmd_unsupported)
        try:
            detail = handler(command)
        except (ValueError, KeyError) as exc:
            self.counters["commands_failed"] += 1
            log.warning("command_failed", device=self.device_id, cid=command.cid, error=str(exc))
            self._reply(command.cid, ok=False, detail=str(exc))
            return
        self.counters[f"commands_{command.type}"] += 1
        self._reply(command.cid, ok=True, detail=detail)

    def _reply(self, cid: str, ok: bool, detail: str | None) -> None:
        result = CommandResultMessage(cid=cid, ok=ok, detail=detail, ts=self._clock())
        self._link.publish(
            topics.device_command_result(self.device_id, cid), result.to_bytes(), qos=1
        )

    # -- certificate renewal --------------------------------------------------------------

    def renew_certificate(self, force: bool = False) -> bool:
        """Ask the fleet for a new certificate if one is due (or ``force``); True if asked."""
        if not self._link.connected:
            return False
        try:
            request = self._renewer.request_if_due(self._clock(), force=force)
        except (OSError, ValueError) as exc:
            log.warning("renewal_check_failed", device=self.device_id, error=str(exc))
            return False
        if request is None:
            return False
        self._link.publish(topics.device_cert_renew(self.device_id), request.to_bytes(), qos=1)
        log.info("renewal_requested", device=self.device_id, request_id=request.request_id)
        return True

    def _on_certificate(self, payload: bytes) -> None:
        try:
            response = decode(RenewResponse, payload)
        except ProtocolError as exc:
            self.counters["messages_rejected"] += 1
            log.warning("message_rejected", device=self.device_id, error=str(exc))
            return
        if self._renewer.accept(response, self._clock()):
            self._link.reload_client_certificate()
            self.counters["certificates_renewed"] += 1

    # -- command handlers -----------------------------------------------------------------

    def _cmd_alert_received(self, command: Command) -> str | None:
        alert_id = str(command.body["alert_id"])
        with self._lock:
            entry = self._pending.pop(alert_id, None)
            if entry is None:
                return "already confirmed"
            confirmed = policy.mark_confirmed(entry, self._clock())
            self._outbox.put(confirmed)
        log.info(
            "alert_confirmed", device=self.device_id, alert_id=alert_id, attempts=entry.attempts
        )
        return None

    def _cmd_identify(self, command: Command) -> str | None:
        log.info("identify_requested", device=self.device_id, cid=command.cid)
        if self.on_identify is None:
            return "no screen (headless)"
        self.on_identify()
        return None

    def _cmd_drill(self, command: Command) -> str | None:
        return self.raise_alert("drill", "staff")

    def _cmd_relocate(self, command: Command) -> str | None:
        """The kiosk was moved: serve the new location (saved first, so a restart keeps it)."""
        fields = ("location", "location_name", "location_token", "facility", "region")
        update = {name: str(command.body[name]) for name in fields}
        try:
            moved = DeviceProfile.model_validate({**self.profile.model_dump(), **update})
        except ValidationError as exc:
            raise ValueError(f"relocate: {exc.error_count()} invalid field(s)") from None
        save_profile(self.state_dir, moved)
        self.profile = moved
        log.info("relocated", device=self.device_id, location=moved.location)
        if self.on_relocated is not None:
            self.on_relocated(moved)
        self._announce()  # the retained status now carries the new location
        return None

    def _cmd_unsupported(self, command: Command) -> str | None:
        raise ValueError(f"command type {command.type!r} is not supported by app {APP_VERSION}")

    # -- periodic work --------------------------------------------------------------------

    def _tick_loop(self) -> None:
        while not self._stop.is_set():
            now = self._clock()
            wait = 1.0
            if self._link.connected:
                wait = min(wait, self._heartbeat_if_due(now))
                if now >= self._next_renewal_check:
                    self._next_renewal_check = now + CHECK_INTERVAL_S
                    self.renew_certificate()
                with self._lock:
                    due = [e for e in self._pending.values() if policy.is_due(e, now)]
                    upcoming = [policy.next_due_at(e) for e in self._pending.values()]
                for entry in due:
                    self._send(entry)
                future = [t - now for t in upcoming if t is not None and t > now]
                if future:
                    wait = min(wait, *future)
            self._wake.wait(max(0.01, wait))
            self._wake.clear()

    def _heartbeat_if_due(self, now: float) -> float:
        interval = self.settings.heartbeat_interval_s
        if self._last_heartbeat_at is not None and now < self._last_heartbeat_at + interval:
            return self._last_heartbeat_at + interval - now
        self._seq += 1
        beat = TelemetryMessage(
            ts=now,
            seq=self._seq,
            uptime_s=now - self._started_at,
            outbox_pending=len(self._pending),
            app=APP_VERSION,
            content=self.content_version,
        )
        if self._link.publish(topics.device_telemetry(self.device_id), beat.to_bytes(), qos=0):
            self._last_heartbeat_at = now
        return interval

    # -- for the control socket and staff panel -------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            pending = [e.alert_id for e in self._pending.values()]
        return {
            "device_id": self.device_id,
            "facility": self.profile.facility,
            "location": self.profile.location,
            "region": self.profile.region,
            "connected": self._link.connected,
            "broker": f"{self.profile.broker.host}:{self.profile.broker.port}",
            "last_heartbeat_at": self._last_heartbeat_at,
            "outbox_pending": pending,
            "app": APP_VERSION,
            "content": self.content_version,
            "counters": {
                **self.counters,
                **(
                    {"content_nudges_rejected": self.content.rejected_nudges}
                    if self.content is not None
                    else {}
                ),
            },
            "certificate_expires_at": self._certificate_expiry(),
        }

    def _certificate_expiry(self) -> float | None:
        try:
            return self._renewer.certificate_life()[1]
        except (OSError, ValueError, IndexError):
            return None

    # -- for the SMS fallback (device/agent/sms_fallback.py) -------------------------------

    def pending_alerts(self) -> list[OutboxEntry]:
        """Alerts not yet confirmed by the fleet manager, oldest first (a snapshot)."""
        with self._lock:
            entries = list(self._pending.values())
        return sorted(entries, key=lambda e: e.created_at)

    def seconds_disconnected(self) -> float | None:
        """How long the broker has been out of reach (monotonic seconds); None if connected.

        Counted from start-up until the first connection, then from each lost connection.
        """
        since = self._disconnected_since
        return None if since is None else max(0.0, time.monotonic() - since)

    def alert_state(self, alert_id: str) -> str | None:
        with self._lock:
            if alert_id in self._pending:
                return self._pending[alert_id].state
        entry = self._outbox.get(alert_id)
        return entry.state if entry else None
