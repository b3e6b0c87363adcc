"""Applies the display schedule: every half minute, and at once when motion is seen.

The decision is :func:`device.agent.display_schedule.screen_should_be_on` (pure); the effect
is :func:`device.agent.display_power.apply_power`. Power is only switched when the decision
changes, and "no opinion" (no schedule) leaves the screen alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from device.agent.device_config import DisplaySettings
from device.agent.display_power import apply_power
from device.agent.display_schedule import screen_should_be_on
from transport.log import get_logger

log = get_logger("device.display")

CHECK_EVERY_S = 30.0


class DisplayLoop:
    def __init__(
        self,
        settings: DisplaySettings,
        apply: Callable[[bool], str] = apply_power,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.settings = settings
        self._apply = apply
        self._now = now
        self._last_motion: datetime | None = None
        self._applied: bool | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="display", daemon=True)
        for warning in settings.warnings:
            log.warning("display_schedule_ignored", problem=warning)

    def start(self) -> None:
        if self.settings.windows:
            self._thread.start()

    def motion(self) -> None:
        self._last_motion = self._now()
        self._wake.set()

    def check(self) -> bool | None:
        """Apply the schedule now; returns what was decided."""
        wanted = screen_should_be_on(
            self._now(), self.settings.windows, self._last_motion, self.settings.motion_wake_s
        )
        if wanted is not None and wanted != self._applied:
            summary = self._apply(wanted)
            self._applied = wanted
            log.info("display_power", on=wanted, how=summary)
        return wanted

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:
                log.exception("display_loop_error")
            self._wake.wait(CHECK_EVERY_S)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
