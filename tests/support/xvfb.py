"""A virtual X display for UI tests, and what a person would see and do on it.

Screenshots are taken from outside the kiosk process (mss grabs the X display), and touches
are real X pointer events (xdotool), which SDL2 hands to Kivy like a finger on the panel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import mss
import mss.tools
from PIL import Image


class VirtualDisplay:
    def __init__(self, width: int = 1920, height: int = 1920) -> None:
        if shutil.which("Xvfb") is None:
            raise RuntimeError(
                "Xvfb is not installed (Debian: apt-get install xvfb); `make test` installs it"
            )
        self.number = self._free_display()
        self.name = f":{self.number}"
        self.process = subprocess.Popen(
            ["Xvfb", self.name, "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{self.number}").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Xvfb {self.name} did not start")
            time.sleep(0.05)

    @staticmethod
    def _free_display() -> int:
        # Parallel test workers (pytest-xdist: gw0, gw1 …) look in ranges of their own, so
        # two of them never pick the same free number at the same moment.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
        first = 90 + 100 * (int(worker) if worker.isdigit() else 0)
        for number in range(first, first + 100):
            if (
                not Path(f"/tmp/.X{number}-lock").exists()
                and not Path(f"/tmp/.X11-unix/X{number}").exists()
            ):
                return number
        raise RuntimeError("no free X display number")

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.name}

    def screenshot(self, width: int, height: int, path: Path) -> Image.Image:
        """The top-left ``width`` × ``height`` of the screen, where the kiosk window sits."""
        with mss.MSS(display=self.name) as grabber:
            shot = grabber.grab({"left": 0, "top": 0, "width": width, "height": height})
            mss.tools.to_png(shot.rgb, shot.size, output=str(path))
        return Image.open(path)

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env(), check=True, timeout=30)

    def hold(self, x: int, y: int, seconds: float) -> None:
        self.xdotool("mousemove", str(x), str(y))
        self.xdotool("mousedown", "1")
        time.sleep(seconds)
        self.xdotool("mouseup", "1")

    def click(self, x: int, y: int) -> None:
        self.xdotool("mousemove", str(x), str(y), "click", "1")

    def swipe(self, x: int, y0: int, y1: int, steps: int = 8) -> None:
        """A quick vertical stroke, as one xdotool run so process start-up cannot slow it."""
        args = ["mousemove", str(x), str(y0), "mousedown", "1"]
        for i in range(1, steps + 1):
            args += ["sleep", "0.01", "mousemove", str(x), str(y0 + (y1 - y0) * i // steps)]
        self.xdotool(*args, "mouseup", "1")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
