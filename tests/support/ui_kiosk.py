"""A `beacon kiosk run` process with its touch UI on a virtual display, driven from outside
through its control socket (``ui-state``, ``ui-show``, ``ui-widgets``) as the UI tests do."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from beacon.processes import ManagedProcess
from device.agent.control import ControlError, control_request
from device.ui.staff_access import hash_pin, save_pin_hash
from tests.support.live import LiveSystem
from tests.support.xvfb import VirtualDisplay

PIN = "4826"


class UiKiosk:
    """A `beacon kiosk run` process with the touch UI, on the virtual display."""

    def __init__(
        self, live: LiveSystem, display: VirtualDisplay, device_id: str, size: tuple[int, int]
    ):
        self.live = live
        self.display = display
        self.device_id = device_id
        self.size = size
        self.state_dir = live.layout.kiosk_dirs[device_id]
        save_pin_hash(self.state_dir, hash_pin(PIN))
        self.process = ManagedProcess(
            f"ui-{device_id}",
            [
                "kiosk",
                "run",
                "--state-dir",
                str(self.state_dir),
                "--size",
                f"{size[0]}x{size[1]}",
                "--heartbeat-interval",
                "2",
            ],
            live.layout.base / "logs" / f"ui-{device_id}-{size[0]}x{size[1]}.log",
        )
        self.process.start(env=display.env())
        deadline = time.monotonic() + 60
        while True:
            try:
                self.ui()
                break
            except (ControlError, ValueError, KeyError):
                if not self.process.is_running or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"UI did not start:\n{self.process.log_text()[-3000:]}"
                    ) from None
                time.sleep(0.2)

    def ctl(self, request: dict[str, Any]) -> dict[str, Any]:
        reply = control_request(self.state_dir, request, timeout=20)
        if not reply.get("ok"):
            raise ValueError(f"{request} failed: {reply}")
        return reply

    def ui(self) -> dict[str, Any]:
        return dict(self.ctl({"cmd": "ui-state"})["ui"])

    def widgets(self) -> dict[str, list[int]]:
        return dict(self.ctl({"cmd": "ui-widgets"})["widgets"])

    def show(self, slide_id: str, language: str) -> None:
        self.ctl({"cmd": "ui-show", "slide_id": slide_id, "language": language})

    def screenshot(self, path: Path) -> Any:
        return self.display.screenshot(self.size[0], self.size[1], path)

    def stop(self) -> None:
        self.process.stop()
