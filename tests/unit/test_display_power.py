"""device.agent.display_power: the fallback chain, with a fake runner and a fake ``which``."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import Any

import pytest

from device.agent.display_power import apply_power

ALL_TOOLS = ("wlr-randr", "vcgencmd", "cec-ctl", "cec-client")


class FakeSystem:
    """Installed tools and what each one does when run: an exit code, or an exception."""

    def __init__(self, installed: Mapping[str, int | BaseException]) -> None:
        self.installed = dict(installed)
        self.calls: list[tuple[list[str], str | None]] = []

    def which(self, tool: str) -> str | None:
        return f"/usr/bin/{tool}" if tool in self.installed else None

    def run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert kwargs["check"] is False and kwargs["timeout"] > 0
        self.calls.append((args, kwargs.get("input")))
        outcome = self.installed[args[0].rsplit("/", 1)[-1]]
        if isinstance(outcome, BaseException):
            raise outcome
        stderr = "" if outcome == 0 else "something went wrong\nmore detail"
        return subprocess.CompletedProcess(args, outcome, stdout="", stderr=stderr)

    def tools_run(self) -> list[str]:
        return [args[0].rsplit("/", 1)[-1] for args, _ in self.calls]


@pytest.mark.parametrize(
    ("installed", "on", "summary", "tried"),
    [
        pytest.param(
            dict.fromkeys(ALL_TOOLS, 0),
            True,
            "display on via wlr-randr",
            ["wlr-randr"],
            id="first-works",
        ),
        pytest.param(
            {"wlr-randr": 1, "vcgencmd": 0, "cec-ctl": 0},
            False,
            "display off via vcgencmd (wlr-randr: exit 1: something went wrong)",
            ["wlr-randr", "vcgencmd"],
            id="falls-back-on-failure",
        ),
        pytest.param(
            {"cec-client": 0},
            True,
            "display on via cec-client",
            ["cec-client"],
            id="only-cec-client-installed",
        ),
        pytest.param(
            {"wlr-randr": subprocess.TimeoutExpired("wlr-randr", 10), "cec-ctl": 0},
            False,
            "display off via cec-ctl (wlr-randr: no answer within 10s)",
            ["wlr-randr", "cec-ctl"],
            id="timeout-falls-back",
        ),
        pytest.param(
            {"vcgencmd": PermissionError("denied"), "cec-ctl": 2, "cec-client": 0},
            True,
            "display on via cec-client (vcgencmd: PermissionError: denied; "
            "cec-ctl: exit 2: something went wrong)",
            ["vcgencmd", "cec-ctl", "cec-client"],
            id="oserror-falls-back",
        ),
        pytest.param(
            {},
            False,
            "display off failed: wlr-randr: not installed; vcgencmd: not installed; "
            "cec-ctl: not installed; cec-client: not installed",
            [],
            id="nothing-installed",
        ),
        pytest.param(
            dict.fromkeys(ALL_TOOLS, 1),
            True,
            "display on failed: wlr-randr: exit 1: something went wrong; "
            "vcgencmd: exit 1: something went wrong; cec-ctl: exit 1: something went wrong; "
            "cec-client: exit 1: something went wrong",
            list(ALL_TOOLS),
            id="everything-fails",
        ),
        pytest.param(
            {"wlr-randr": RuntimeError("odd")},
            True,
            "display on failed: wlr-randr: RuntimeError: odd; vcgencmd: not installed; "
            "cec-ctl: not installed; cec-client: not installed",
            ["wlr-randr"],
            id="never-raises",
        ),
    ],
)
def test_fallback_chain(
    installed: Mapping[str, int | BaseException], on: bool, summary: str, tried: list[str]
) -> None:
    system = FakeSystem(installed)
    assert apply_power(on, runner=system.run, which=system.which) == summary
    assert system.tools_run() == tried


@pytest.mark.parametrize(
    ("tool", "on", "args", "stdin"),
    [
        ("wlr-randr", True, ["--output", "HDMI-A-2", "--on"], None),
        ("wlr-randr", False, ["--output", "HDMI-A-2", "--off"], None),
        ("vcgencmd", True, ["display_power", "1"], None),
        ("vcgencmd", False, ["display_power", "0"], None),
        ("cec-ctl", True, ["-d", "/dev/cec0", "--playback", "--to", "0", "--image-view-on"], None),
        ("cec-ctl", False, ["-d", "/dev/cec0", "--playback", "--to", "0", "--standby"], None),
        ("cec-client", True, ["-s", "-d", "1"], "on 0\n"),
        ("cec-client", False, ["-s", "-d", "1"], "standby 0\n"),
    ],
)
def test_command_lines(tool: str, on: bool, args: list[str], stdin: str | None) -> None:
    system = FakeSystem({tool: 0})
    apply_power(on, runner=system.run, which=system.which, output="HDMI-A-2")
    assert system.calls == [([f"/usr/bin/{tool}", *args], stdin)]
