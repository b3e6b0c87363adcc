"""Switching the kiosk's display on or off: the thin, effectful half of the display schedule.

No single mechanism works on every Pi and screen, so :func:`apply_power` tries them in order
of how directly they control the picture, and stops at the first that succeeds:

1. ``wlr-randr`` turns the HDMI output off under a Wayland compositor (Raspberry Pi OS
   Bookworm desktop images). Fails without a compositor, e.g. Kivy on bare KMS/DRM.
2. ``vcgencmd display_power`` asks the firmware to blank HDMI (legacy and fake-KMS images).
3. HDMI-CEC asks the screen itself to go to standby or wake: ``cec-ctl`` (kernel CEC, as on
   KMS images), then libcec's ``cec-client``. Only screens with CEC enabled listen.

A tool that is not installed is skipped; one that fails hands over to the next. The result is
a one-line summary for the log. It never raises: a screen that will not switch must not stop
the agent, and the next scheduled change simply tries again.

The decision of *when* is :mod:`device.agent.display_schedule`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Runner = Callable[..., "subprocess.CompletedProcess[str]"]
Which = Callable[[str], str | None]

DEFAULT_OUTPUT = "HDMI-A-1"
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class PowerMethod:
    """One way to switch the display: a tool, its arguments, and what to feed its stdin."""

    name: str
    tool: str
    args: tuple[str, ...]
    stdin: str | None = None


def power_methods(on: bool, output: str = DEFAULT_OUTPUT) -> list[PowerMethod]:
    """The mechanisms :func:`apply_power` tries, strongest first."""
    return [
        PowerMethod("wlr-randr", "wlr-randr", ("--output", output, "--on" if on else "--off")),
        PowerMethod("vcgencmd", "vcgencmd", ("display_power", "1" if on else "0")),
        PowerMethod(
            "cec-ctl",
            "cec-ctl",
            # --playback claims a logical address: an unconfigured adapter sends nothing.
            ("-d", "/dev/cec0", "--playback", "--to", "0")
            + (("--image-view-on",) if on else ("--standby",)),
        ),
        PowerMethod(
            "cec-client", "cec-client", ("-s", "-d", "1"), stdin="on 0\n" if on else "standby 0\n"
        ),
    ]


def apply_power(
    on: bool,
    runner: Runner = subprocess.run,
    which: Which = shutil.which,
    output: str = DEFAULT_OUTPUT,
) -> str:
    """Switch the display on or off; return what happened, in one line, for the log.

    ``"display on via vcgencmd (wlr-randr: exit 1: no compositor)"`` on success;
    ``"display off failed: wlr-randr: not installed; vcgencmd: ..."`` when nothing worked.
    """
    state = "on" if on else "off"
    notes: list[str] = []
    for method in power_methods(on, output):
        path = which(method.tool)
        if path is None:
            notes.append(f"{method.name}: not installed")
            continue
        problem = _run(method, path, runner)
        if problem is None:
            failed = [n for n in notes if not n.endswith("not installed")]
            detail = f" ({'; '.join(failed)})" if failed else ""
            return f"display {state} via {method.name}{detail}"
        notes.append(f"{method.name}: {problem}")
    return f"display {state} failed: " + "; ".join(notes)


def _run(method: PowerMethod, path: str, runner: Runner) -> str | None:
    """None on success, else why it failed (short, for the summary)."""
    kwargs: dict[str, Any] = {
        "capture_output": True,
        "text": True,
        "timeout": TIMEOUT_S,
        "check": False,
    }
    if method.stdin is not None:
        kwargs["input"] = method.stdin
    try:
        result = runner([path, *method.args], **kwargs)
    except subprocess.TimeoutExpired:
        return f"no answer within {TIMEOUT_S:g}s"
    except Exception as exc:  # the contract is "never raises": the reason goes in the summary
        return f"{type(exc).__name__}: {exc}"
    if result.returncode != 0:
        detail = _first_line(result.stderr) or _first_line(result.stdout)
        return f"exit {result.returncode}" + (f": {detail}" if detail else "")
    return None


def _first_line(text: object) -> str:
    if not isinstance(text, str):
        return ""
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""
