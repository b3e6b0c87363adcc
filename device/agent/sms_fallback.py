"""The SMS fallback loop: reads the agent's outbox and link state, asks the policy, texts.

One daemon thread, once a second: snapshot the unconfirmed alerts and how long the broker has
been out of reach (:meth:`KioskAgent.pending_alerts`, :meth:`KioskAgent.seconds_disconnected`),
call :func:`device.agent.sms_policy.sms_due`, and send what is due through the modem. The ids
already texted live in ``STATE_DIR/sms_texted.json`` (written atomically), so a restart does
not text the on-call phone twice. Nothing here touches the outbox: a texted alert is still
delivered over MQTT when the broker is back.

The loop survives its dependency: every modem failure is logged and counted, the next attempt
waits on the policy's widening schedule, and no exception leaves the thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from device.agent import sms_policy as policy
from device.agent.identity import DeviceProfile
from device.agent.modem import ModemError, SmsModem, valid_number
from device.agent.outbox_policy import OutboxEntry
from device.agent.sms_policy import ModemRetry, PendingAlert
from transport.log import get_logger

log = get_logger("device.sms")

TEXTED_FILE = "sms_texted.json"
KEEP_RECORDS = 500  # bounded: only the newest matter, older alerts are long confirmed


@dataclass(frozen=True)
class SmsSettings:
    """The ``[sms]`` section of ``kiosk.toml`` (see :mod:`device.agent.device_config`)."""

    enabled: bool = False
    port: str = "/dev/ttyUSB2"
    baud: int = 115200
    on_call_number: str = ""
    fallback_after_s: float = policy.DEFAULT_FALLBACK_AFTER_S
    template: str = policy.DEFAULT_TEMPLATE
    retry_s: tuple[float, ...] = policy.RETRY_SCHEDULE_S
    command_timeout_s: float = 5.0
    send_timeout_s: float = 60.0


class SmsSender(Protocol):
    def send_sms(self, number: str, text: str) -> int: ...


class AgentView(Protocol):
    """What the loop reads of :class:`device.agent.agent.KioskAgent`."""

    profile: DeviceProfile
    counters: Counter[str]

    def pending_alerts(self) -> list[OutboxEntry]: ...

    def seconds_disconnected(self) -> float | None: ...


class TextedAlerts:
    """Which alerts were texted, on disk. Written whole and atomically after every text."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._records: list[dict[str, Any]] = self._load()

    def _load(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text())
            records = data["texted"]
            if not isinstance(records, list) or not all(
                isinstance(r, dict) and isinstance(r.get("alert_id"), str) for r in records
            ):
                raise ValueError("texted must be a list of {alert_id, at, ref}")
            return records
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Starting empty may text an alert twice; refusing to start would text none.
            log.warning("sms_record_unreadable", path=str(self.path), error=str(exc))
            return []

    def ids(self) -> frozenset[str]:
        return frozenset(r["alert_id"] for r in self._records)

    def add(self, alert_id: str, at: float, ref: int) -> None:
        """Remember at once (in memory), then persist; OSError if the disk refuses."""
        self._records = [*self._records, {"alert_id": alert_id, "at": at, "ref": ref}]
        self._records = self._records[-KEEP_RECORDS:]
        data = json.dumps({"texted": self._records}, indent=1).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".sms_texted.")
        try:
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)  # a power cut leaves the old file or the new, never half
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


class SmsFallback:
    """Texts pending alerts while the broker is out of reach; ``start``/``stop`` a thread."""

    def __init__(
        self,
        agent: AgentView,
        settings: SmsSettings,
        state_dir: Path,
        sender: SmsSender | None = None,
        tick_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not valid_number(settings.on_call_number):
            raise ValueError(
                f"SMS on-call number {settings.on_call_number!r} is not a phone number"
            )
        self.agent = agent
        self.settings = settings
        self.sender: SmsSender = sender or SmsModem(
            settings.port,
            settings.baud,
            command_timeout_s=settings.command_timeout_s,
            send_timeout_s=settings.send_timeout_s,
        )
        self.texted = TextedAlerts(state_dir / TEXTED_FILE)
        self.retry = ModemRetry()
        self._tick_s = tick_s
        self._monotonic = monotonic
        self._wall = wall
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sms-fallback", daemon=True)
        self._thread.start()
        log.info(
            "sms_fallback_started",
            port=self.settings.port,
            fallback_after_s=self.settings.fallback_after_s,
            already_texted=len(self.texted.ids()),
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the current step; a send in progress is bounded by the modem timeouts."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                self.agent.counters["sms_loop_errors"] += 1
                log.exception("sms_fallback_tick_failed")
            self._stop.wait(self._tick_s)

    def tick(self) -> list[str]:
        """One round: text whatever is due now; return the ids texted."""
        now = self._monotonic()
        away = self.agent.seconds_disconnected()
        entries = {e.alert_id: e for e in self.agent.pending_alerts()}
        due = policy.sms_due(
            [PendingAlert(e.alert_id, e.kind, e.created_at) for e in entries.values()],
            self.texted.ids(),
            None if away is None else now - away,
            now,
            self.settings.fallback_after_s,
        )
        texted: list[str] = []
        if not due or not self.retry.may_attempt(now):
            return texted
        for alert_id in due:
            if self._stop.is_set() or not self._text(entries[alert_id], away):
                break
            texted.append(alert_id)
        return texted

    def _text(self, entry: OutboxEntry, away: float | None) -> bool:
        profile = self.agent.profile
        text = policy.sms_text(
            self.settings.template,
            kind=entry.kind,
            location=entry.location,
            location_name=profile.location_name,
            facility=profile.facility,
            at=datetime.fromtimestamp(entry.created_at).astimezone(),
            alert_id=entry.alert_id,
        )
        try:
            ref = self.sender.send_sms(self.settings.on_call_number, text)
        except ModemError as exc:
            self.retry = policy.after_failure(self.retry, self._monotonic(), self.settings.retry_s)
            self.agent.counters["sms_failures"] += 1
            log.warning(
                "sms_failed",
                alert_id=entry.alert_id,
                error=str(exc),
                failure=type(exc).__name__,
                code=exc.code,
                failures=self.retry.failures,
                retry_in_s=policy.retry_delay(self.retry.failures, self.settings.retry_s),
            )
            return False
        self.retry = policy.after_success(self.retry)
        self.agent.counters["sms_sent"] += 1
        try:
            self.texted.add(entry.alert_id, self._wall(), ref)
        except OSError as exc:
            # Remembered in memory; only a restart before the disk recovers may text again.
            log.error("sms_record_failed", alert_id=entry.alert_id, error=str(exc))
        log.info(
            "sms_sent",
            alert_id=entry.alert_id,
            kind=entry.kind,
            ref=ref,
            offline_s=None if away is None else round(away, 1),
        )
        return True
