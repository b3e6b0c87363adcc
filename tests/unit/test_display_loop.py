"""device/agent/display_loop.py: power is switched only when the schedule's answer changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

from device.agent.device_config import DisplaySettings
from device.agent.display_loop import DisplayLoop
from device.agent.display_schedule import DisplayWindow


def recorder(applied: list[bool]) -> Callable[[bool], str]:
    def apply(on: bool) -> str:
        applied.append(on)
        return "fake"

    return apply


WEEKDAYS_8_TO_18 = DisplayWindow(days=frozenset(range(5)), on=time(8), off=time(18))


def test_switches_on_change_only_and_motion_wakes_the_screen() -> None:
    clock = [datetime(2026, 11, 23, 7, 0)]  # a Monday, before opening
    applied: list[bool] = []
    loop = DisplayLoop(
        DisplaySettings(windows=(WEEKDAYS_8_TO_18,), motion_wake_s=120),
        apply=recorder(applied),
        now=lambda: clock[0],
    )
    assert loop.check() is False
    assert loop.check() is False
    clock[0] = datetime(2026, 11, 23, 7, 30)
    loop.motion()  # someone walks past before opening
    assert loop.check() is True
    clock[0] = datetime(2026, 11, 23, 7, 33)
    assert loop.check() is False  # the wake period is over
    clock[0] = datetime(2026, 11, 23, 9, 0)
    assert loop.check() is True
    assert applied == [False, True, False, True]


def test_no_schedule_leaves_the_screen_alone() -> None:
    applied: list[bool] = []
    loop = DisplayLoop(DisplaySettings(), apply=recorder(applied))
    assert loop.check() is None
    loop.motion()
    assert loop.check() is None
    assert applied == []
