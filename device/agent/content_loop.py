"""The kiosk's content thread: signed nudges, start-up and periodic checks, health checks.

Downloads take seconds and must never stall the MQTT network thread or the UI, so everything
the :class:`~device.content.updater.ContentUpdater` does runs here, one thing at a time. Its
events go out on the kiosk's event topic through ``publish_event``. Nudges are verified with
the fleet's command key before anything else: an unsigned one is counted and dropped.

Health: after a switch, ``on_applied(bundle_dir, version)`` lets the UI load and show the new
bundle and then call :meth:`ContentLoop.confirm`; a headless kiosk (no ``on_applied``) confirms
at once, the bundle having loaded during the update.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from device.content.updater import ContentUpdater, Event
from protocol.content_delivery import verify_nudge
from protocol.errors import EnvelopeError
from transport.log import get_logger

log = get_logger("device.content_loop")

CHECK_EVERY_S = 600.0
HEALTH_EVERY_S = 2.0

Job = tuple[str, Any]


class ContentLoop:
    def __init__(
        self,
        updater: ContentUpdater,
        command_key: Ed25519PublicKey,
        publish_event: Callable[[str, dict[str, str]], None],
        *,
        on_applied: Callable[[Path, str], None] | None = None,
        check_every_s: float = CHECK_EVERY_S,
        health_every_s: float = HEALTH_EVERY_S,
    ) -> None:
        self.updater = updater
        self._key = command_key
        self._publish = publish_event
        self.on_applied = on_applied
        self._check_every_s = check_every_s
        self._health_every_s = health_every_s
        self._jobs: queue.Queue[Job] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="content", daemon=True)
        self.rejected_nudges = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._jobs.put(("stop", None))
        self._thread.join(timeout=10)

    # -- from other threads ----------------------------------------------------------------

    def nudge(self, payload: bytes) -> None:
        self._jobs.put(("nudge", payload))

    def confirm(self, version: str) -> None:
        """The UI has loaded and shown ``version``."""
        self._jobs.put(("confirm", version))

    def check_now(self) -> None:
        self._jobs.put(("check", None))

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        self._jobs.put(("check", None))
        next_check = time.monotonic() + self._check_every_s
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_check:
                next_check = now + self._check_every_s
                self._jobs.put(("check", None))
            try:
                kind, value = self._jobs.get(timeout=self._health_every_s)
            except queue.Empty:
                self._emit(self.updater.check_health())
                continue
            try:
                self._do(kind, value)
            except Exception:  # one bad job must not end content updates for good
                log.exception("content_job_failed", job=kind)
            self._emit(self.updater.check_health())

    def _do(self, kind: str, value: Any) -> None:
        if kind == "nudge":
            try:
                nudge = verify_nudge(value, self._key)
            except EnvelopeError as exc:
                self.rejected_nudges += 1
                log.warning("content_nudge_rejected", error=str(exc))
                return
            self._emit(self.updater.on_nudge(nudge))
        elif kind == "check":
            self._emit(self.updater.ensure_channel_content())
        elif kind == "confirm":
            self._emit(self.updater.confirm_healthy(value))

    def _emit(self, events: list[Event]) -> None:
        for name, detail in events:
            self._publish(name, detail)
            if name == "content_applied":
                self._applied(detail["version"])

    def _applied(self, version: str) -> None:
        bundle_dir = self.updater.current_bundle_dir()
        if self.on_applied is None or bundle_dir is None:
            self._emit(self.updater.confirm_healthy(version))
            return
        self.on_applied(bundle_dir, version)
