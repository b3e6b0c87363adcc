"""Regenerate docs/screenshots/: the demo kiosk on a virtual display, as a person sees it.

    .venv/bin/python scripts/kiosk_screenshots.py [--size 1024x600] [--out docs/screenshots]

Needs Xvfb and xdotool (installed by `make test`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mss
import mss.tools

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beacon.kiosk_demo import DEMO_PIN, make_demo_state  # noqa: E402
from device.agent.control import ControlError, control_request  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="1024x600")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    display = ":187"
    env = {**os.environ, "DISPLAY": display}
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"]
    )
    state = make_demo_state(Path(tempfile.mkdtemp(prefix="beacon-shots-")) / "kiosk")
    kiosk = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "beacon",
            "kiosk",
            "run",
            "--state-dir",
            str(state),
            "--size",
            args.size,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def ctl(request: dict[str, object]) -> dict[str, object]:
        return control_request(state, request, timeout=20)

    def shot(name: str) -> None:
        time.sleep(0.4)
        with mss.MSS(display=display) as grabber:
            img = grabber.grab({"left": 0, "top": 0, "width": width, "height": height})
            mss.tools.to_png(img.rgb, img.size, output=str(args.out / f"{name}.png"))
        print(args.out / f"{name}.png")

    def xdotool(*words: str) -> None:
        subprocess.run(["xdotool", *words], env=env, check=True)

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ctl({"cmd": "ui-state"})
                break
            except ControlError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        ctl({"cmd": "ui-show", "slide_id": "wash-hands", "language": "en"})
        shot("neutral-en")
        ctl({"cmd": "ui-show", "slide_id": "help-safe", "language": "en"})
        shot("help-en")
        ctl({"cmd": "ui-show", "slide_id": "help-safe", "language": "ar"})
        shot("help-ar")
        ctl({"cmd": "ui-show", "slide_id": "help-talk", "language": "zh-Hans"})
        shot("help-zh-hans")
        for _ in range(5):
            xdotool("mousemove", "20", "20", "click", "1")
        time.sleep(0.5)
        widgets = ctl({"cmd": "ui-widgets"})["widgets"]
        assert isinstance(widgets, dict)
        for digit in DEMO_PIN:
            xdotool("mousemove", *map(str, widgets[f"button:{digit}"]), "click", "1")
        xdotool("mousemove", *map(str, widgets["button:OK"]), "click", "1")
        shot("staff-panel")
    finally:
        kiosk.terminate()
        kiosk.wait(10)
        xvfb.terminate()


if __name__ == "__main__":
    main()
