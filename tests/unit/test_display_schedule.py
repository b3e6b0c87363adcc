"""device.agent.display_schedule: (time, schedule) → on / off / no opinion, and operator input."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta

import pytest

from device.agent.display_schedule import (
    DisplayWindow,
    parse_schedule,
    screen_should_be_on,
    should_be_on,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
_WEEK_START = datetime(2026, 11, 2)  # a Monday
_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def at(day: str, clock: str) -> datetime:
    """``at("fri", "22:00")``: that weekday and time in a fixed week (Mon 2026-11-02)."""
    hh, mm, *ss = (int(p) for p in clock.split(":"))
    return _WEEK_START + timedelta(
        days=_DAYS[day], hours=hh, minutes=mm, seconds=ss[0] if ss else 0
    )


def window(days: set[int], on: str, off: str) -> DisplayWindow:
    return DisplayWindow(frozenset(days), time.fromisoformat(on), time.fromisoformat(off))


WEEKDAY_HOURS = window({MON, TUE, WED, THU, FRI}, "07:00", "19:00")
FRI_NIGHT = window({FRI}, "22:00", "06:00")
SUN_NIGHT = window({SUN}, "20:00", "02:00")
ALL_DAY_MON = window({MON}, "00:00", "00:00")
UNTIL_MIDNIGHT = window({SAT}, "18:00", "00:00")


@pytest.mark.parametrize(
    ("now", "windows", "expected"),
    [
        # no schedule: no opinion, whatever the time
        pytest.param(at("mon", "12:00"), (), None, id="empty-schedule"),
        pytest.param(at("sun", "03:00"), (), None, id="empty-schedule-night"),
        # a plain daytime window, both edges
        pytest.param(at("tue", "12:00"), (WEEKDAY_HOURS,), True, id="weekday-midday"),
        pytest.param(at("tue", "06:59:59"), (WEEKDAY_HOURS,), False, id="one-second-before-on"),
        pytest.param(at("tue", "07:00"), (WEEKDAY_HOURS,), True, id="on-edge-is-inside"),
        pytest.param(at("tue", "18:59:59"), (WEEKDAY_HOURS,), True, id="last-second"),
        pytest.param(at("tue", "19:00"), (WEEKDAY_HOURS,), False, id="off-edge-is-outside"),
        pytest.param(at("sat", "12:00"), (WEEKDAY_HOURS,), False, id="weekend-not-in-days"),
        # overnight window belongs to the day it began
        pytest.param(at("fri", "21:59"), (FRI_NIGHT,), False, id="fri-before-night"),
        pytest.param(at("fri", "22:00"), (FRI_NIGHT,), True, id="fri-night-starts"),
        pytest.param(at("fri", "23:59:59"), (FRI_NIGHT,), True, id="fri-before-midnight"),
        pytest.param(at("sat", "00:00"), (FRI_NIGHT,), True, id="sat-midnight-from-fri"),
        pytest.param(at("sat", "05:59:59"), (FRI_NIGHT,), True, id="sat-early-from-fri"),
        pytest.param(at("sat", "06:00"), (FRI_NIGHT,), False, id="sat-off-edge"),
        pytest.param(at("fri", "03:00"), (FRI_NIGHT,), False, id="fri-early-is-thu-night"),
        pytest.param(at("sat", "22:30"), (FRI_NIGHT,), False, id="sat-night-not-listed"),
        # Sunday's overnight window lights Monday morning (the week wraps)
        pytest.param(at("sun", "20:00"), (SUN_NIGHT,), True, id="sun-night-starts"),
        pytest.param(at("mon", "01:59"), (SUN_NIGHT,), True, id="sun-to-mon-wrap"),
        pytest.param(at("mon", "02:00"), (SUN_NIGHT,), False, id="sun-to-mon-off-edge"),
        pytest.param(at("sun", "01:00"), (SUN_NIGHT,), False, id="sun-early-is-sat-night"),
        # on == off: the whole 24 hours from on
        pytest.param(at("mon", "00:00"), (ALL_DAY_MON,), True, id="all-day-start"),
        pytest.param(at("mon", "23:59:59"), (ALL_DAY_MON,), True, id="all-day-end"),
        pytest.param(at("tue", "00:00"), (ALL_DAY_MON,), False, id="all-day-next-day"),
        pytest.param(at("sun", "23:00"), (ALL_DAY_MON,), False, id="all-day-day-before"),
        # off at 00:00 ends at midnight
        pytest.param(at("sat", "23:59"), (UNTIL_MIDNIGHT,), True, id="until-midnight"),
        pytest.param(at("sun", "00:00"), (UNTIL_MIDNIGHT,), False, id="midnight-is-off"),
        # windows add up
        pytest.param(at("fri", "20:00"), (WEEKDAY_HOURS, FRI_NIGHT), False, id="gap"),
        pytest.param(at("sat", "01:00"), (WEEKDAY_HOURS, FRI_NIGHT), True, id="second-window"),
        # aware datetimes use their own wall clock
        pytest.param(
            at("tue", "07:30").replace(tzinfo=UTC), (WEEKDAY_HOURS,), True, id="aware-datetime"
        ),
    ],
)
def test_should_be_on(
    now: datetime, windows: tuple[DisplayWindow, ...], expected: bool | None
) -> None:
    assert should_be_on(now, windows) is expected


@pytest.mark.parametrize(
    ("now", "windows", "last_motion", "wake_s", "expected"),
    [
        pytest.param(at("sun", "03:00"), (), at("sun", "03:00"), 60, None, id="no-schedule"),
        pytest.param(at("tue", "12:00"), (WEEKDAY_HOURS,), None, 60, True, id="in-hours"),
        pytest.param(at("tue", "22:00"), (WEEKDAY_HOURS,), None, 60, False, id="no-motion"),
        pytest.param(
            at("tue", "22:00"), (WEEKDAY_HOURS,), at("tue", "21:59:30"), 60, True, id="recent"
        ),
        pytest.param(
            at("tue", "22:00"), (WEEKDAY_HOURS,), at("tue", "22:00"), 60, True, id="just-now"
        ),
        pytest.param(
            at("tue", "22:00"), (WEEKDAY_HOURS,), at("tue", "21:59"), 60, False, id="edge-is-dark"
        ),
        pytest.param(
            at("tue", "22:00"), (WEEKDAY_HOURS,), at("tue", "21:00"), 60, False, id="stale"
        ),
        pytest.param(
            at("tue", "22:00"), (WEEKDAY_HOURS,), at("tue", "21:59:59"), 0, False, id="wake-off"
        ),
        pytest.param(
            at("tue", "22:00"), (WEEKDAY_HOURS,), at("tue", "22:05"), 60, False, id="future"
        ),
        pytest.param(
            at("mon", "00:00:30"),
            (WEEKDAY_HOURS,),
            at("mon", "00:00:30") - timedelta(seconds=40),  # Sunday 23:59:50
            60,
            True,
            id="across-midnight",
        ),
    ],
)
def test_screen_should_be_on(
    now: datetime,
    windows: tuple[DisplayWindow, ...],
    last_motion: datetime | None,
    wake_s: float,
    expected: bool | None,
) -> None:
    assert screen_should_be_on(now, windows, last_motion, wake_s) is expected


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param({"days": "mon-fri", "on": "07:00", "off": "19:00"}, WEEKDAY_HOURS, id="range"),
        pytest.param(
            {"days": "Monday - Friday", "on": "7:00", "off": "19:00:00"},
            WEEKDAY_HOURS,
            id="long-names-short-hour",
        ),
        pytest.param(
            {"days": "weekdays", "on": time(7), "off": time(19)}, WEEKDAY_HOURS, id="toml-times"
        ),
        pytest.param(
            {"days": "fri-mon", "on": "09:00", "off": "12:00"},
            window({FRI, SAT, SUN, MON}, "09:00", "12:00"),
            id="range-wraps-the-week",
        ),
        pytest.param(
            {"days": "sat, sun", "on": "22:00", "off": "06:00"},
            window({SAT, SUN}, "22:00", "06:00"),
            id="list-in-text",
        ),
        pytest.param(
            {"days": ["tue", "thu"], "on": "08:00", "off": "24:00"},
            window({TUE, THU}, "08:00", "00:00"),
            id="list-and-24h",
        ),
        pytest.param(
            {"days": "daily", "on": "00:00", "off": "00:00"},
            window(set(range(7)), "00:00", "00:00"),
            id="daily-all-day",
        ),
        pytest.param(
            {"days": "weekends", "on": "10:00", "off": "16:00"},
            window({SAT, SUN}, "10:00", "16:00"),
            id="weekends",
        ),
    ],
)
def test_parse_schedule_accepts(entry: Mapping[str, object], expected: DisplayWindow) -> None:
    windows, warnings = parse_schedule([entry])
    assert warnings == []
    assert windows == (expected,)


GOOD = {"days": "mon-fri", "on": "07:00", "off": "19:00"}


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        pytest.param([{"days": "mon-fir", "on": "07:00", "off": "19:00"}], "'mon-fir'", id="typo"),
        pytest.param([{"on": "07:00", "off": "19:00"}], "days is missing", id="no-days"),
        pytest.param([{"days": "", "on": "07:00", "off": "19:00"}], "''", id="empty-days"),
        pytest.param([{"days": 5, "on": "07:00", "off": "19:00"}], "days must be", id="days-int"),
        pytest.param([{"days": "mo", "on": "07:00", "off": "19:00"}], "'mo'", id="too-short"),
        pytest.param([{"days": "mon", "on": "7pm", "off": "19:00"}], "on: '7pm'", id="12h"),
        pytest.param([{"days": "mon", "on": "25:00", "off": "19:00"}], "on: '25:00'", id="hour"),
        pytest.param([{"days": "mon", "on": "07:00"}], "off is missing", id="no-off"),
        pytest.param([{"days": "mon", "on": "07:00", "off": 19}], "off: 19", id="off-int"),
        pytest.param(
            [{"days": "mon", "on": "07:00", "off": "19:00", "of": "1"}], "unknown", id="extra"
        ),
        pytest.param(["mon 07:00-19:00"], "must be a table", id="not-a-table"),
        pytest.param("mon-fri 07:00-19:00", "must be a list", id="not-a-list"),
        # one bad window drops the good ones too: no opinion beats a dark week
        pytest.param([GOOD, {"days": "sat", "on": "x", "off": "y"}], "window 2", id="one-bad"),
    ],
)
def test_parse_schedule_degrades_to_no_opinion(data: object, needle: str) -> None:
    windows, warnings = parse_schedule(data)  # type: ignore[arg-type]
    assert windows == ()
    assert any(needle in w for w in warnings), warnings
    assert warnings[-1].startswith("display schedule ignored")
    assert should_be_on(at("tue", "12:00"), windows) is None


def test_parse_schedule_reports_every_problem() -> None:
    _, warnings = parse_schedule(
        [{"days": "mon", "on": "x", "off": "y"}, {"days": "funday", "on": "07:00", "off": "08:00"}]
    )
    assert len(warnings) == 4  # window 1: on, off; window 2: days; the summary
    assert warnings[0].startswith("window 1: on")
    assert warnings[2].startswith("window 2: days")


def test_parse_empty_schedule_is_no_opinion_without_warnings() -> None:
    assert parse_schedule([]) == ((), [])
