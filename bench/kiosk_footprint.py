"""Kiosk start-up time and memory, against a bare Kivy window measured in the same run.

    python bench/kiosk_footprint.py [--minutes 10] [--size 800x480]

On a private Xvfb display it starts ``beacon kiosk run --demo`` (the real UI and agent, the
sample bundle, no broker) and measures, from the moment the process is spawned:

* ``first_frame_s``: the first screen grab that is not blank;
* ``first_qr_frame_s``: as soon as the control socket answers, the first help slide is asked
  for; this is when a screen grab first decodes to the kiosk's QR URL (zxing-cpp);
* ``rss_mb``: resident memory (VmRSS) after ``--minutes`` of normal rotation, and its peak.

The baseline is a bare Kivy window (one Label) started the same way: its first frame and its
memory. One JSON object goes to stdout. Targets: first QR frame within 2 s, RSS under 120 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mss
import zxingcpp
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from beacon.kiosk_demo import make_demo_state  # noqa: E402
from device.agent.control import ControlError, control_request  # noqa: E402

BARE_KIVY = """
import os
os.environ["KIVY_NO_ARGS"] = "1"; os.environ["KIVY_NO_CONSOLELOG"] = "1"
from kivy.config import Config
Config.set("graphics", "width", "{w}"); Config.set("graphics", "height", "{h}")
Config.set("graphics", "borderless", "1")
from kivy.app import App
from kivy.uix.label import Label
class Bare(App):
    def build(self):
        return Label(text="Clean hands help stop germs", font_size=40)
Bare().run()
"""


def grab(display: str, size: tuple[int, int]) -> Image.Image:
    with mss.MSS(display=display) as grabber:
        shot = grabber.grab({"left": 0, "top": 0, "width": size[0], "height": size[1]})
        return Image.frombytes("RGB", shot.size, shot.rgb)


def not_blank(image: Image.Image) -> bool:
    low, high = image.convert("L").getextrema()
    assert isinstance(low, int) and isinstance(high, int)  # one band: plain numbers
    return high - low > 60


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_first_frame(display: str, size: tuple[int, int], started: float, timeout: float) -> float:
    while time.perf_counter() - started < timeout:
        if not_blank(grab(display, size)):
            return time.perf_counter() - started
        time.sleep(0.02)
    raise TimeoutError("no frame")


def measure_bare(display: str, env: dict[str, str], size: tuple[int, int]) -> dict[str, float]:
    home = tempfile.mkdtemp(prefix="bare-kivy-")
    # A file, not `python -c`: Kivy's App looks up its class's source file.
    script = Path(home) / "bare_kivy.py"
    script.write_text(BARE_KIVY.format(w=size[0], h=size[1]))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        env={**env, "KIVY_HOME": home},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = wait_first_frame(display, size, started, 60)
        time.sleep(2)
        return {"first_frame_s": round(first, 3), "rss_mb": round(rss_mb(proc.pid), 1)}
    finally:
        proc.terminate()
        proc.wait(10)


def measure_kiosk(
    display: str, env: dict[str, str], size: tuple[int, int], minutes: float
) -> dict[str, Any]:
    state = make_demo_state(Path(tempfile.mkdtemp(prefix="footprint-")) / "kiosk")
    profile = json.loads((state / "device.json").read_text())
    wanted = f"https://{profile['qr_origin']}/r/{profile['location_token']}"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "beacon",
            "kiosk",
            "run",
            "--state-dir",
            str(state),
            "--size",
            f"{size[0]}x{size[1]}",
            "--log-level",
            "WARNING",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first_frame = wait_first_frame(display, size, started, 60)
        while True:
            try:
                control_request(
                    state, {"cmd": "ui-show", "slide_id": "help-safe", "language": "en"}
                )
                break
            except ControlError:
                time.sleep(0.01)
        first_qr = None
        while first_qr is None and time.perf_counter() - started < 60:
            codes = zxingcpp.read_barcodes(grab(display, size))
            if any(c.text.startswith(wanted) for c in codes):
                first_qr = time.perf_counter() - started
        # Back to normal rotation for the memory soak (the pin ends after the idle time).
        peak = 0.0
        end = time.monotonic() + minutes * 60
        samples = []
        while time.monotonic() < end:
            current = rss_mb(proc.pid)
            peak = max(peak, current)
            samples.append(current)
            time.sleep(min(5.0, max(0.1, end - time.monotonic())))
        final = rss_mb(proc.pid)
        frames = control_request(state, {"cmd": "ui-state"})["ui"]["frames_drawn"]
        return {
            "first_frame_s": round(first_frame, 3),
            "first_qr_frame_s": None if first_qr is None else round(first_qr, 3),
            "rss_mb": round(final, 1),
            "rss_peak_mb": round(max(peak, final), 1),
            "rss_at_start_mb": round(samples[0], 1) if samples else None,
            "frames_drawn": frames,
            "minutes": minutes,
        }
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--size", default="800x480")
    args = parser.parse_args()
    size = (int(args.size.split("x")[0]), int(args.size.split("x")[1]))
    display = f":{170 + os.getpid() % 20}"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", f"{size[0]}x{size[1]}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {**os.environ, "DISPLAY": display}
    try:
        time.sleep(1.0)
        bare = measure_bare(display, env, size)
        kiosk = measure_kiosk(display, env, size, args.minutes)
    finally:
        xvfb.terminate()
    first_qr = kiosk["first_qr_frame_s"]
    print(
        json.dumps(
            {
                "size": args.size,
                "kiosk": kiosk,
                "baseline_bare_kivy": bare,
                "ratio_first_frame": round(kiosk["first_frame_s"] / bare["first_frame_s"], 2),
                "extra_rss_mb_over_bare_kivy": round(kiosk["rss_mb"] - bare["rss_mb"], 1),
                "target": {"first_qr_frame_s": 2.0, "rss_mb": 120},
                "meets_target": first_qr is not None
                and first_qr <= 2.0
                and kiosk["rss_peak_mb"] < 120,
            }
        )
    )


if __name__ == "__main__":
    main()
