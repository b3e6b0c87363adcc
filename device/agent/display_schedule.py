"""When the kiosk's screen should be lit: a pure decision, apart from switching it.

A kiosk in a clinic that closes at night should not glow in an empty waiting room all night,
but a dark screen must never hide the help control from someone who walks up to it. So there
are two inputs: the operator's opening hours (weekly windows) and the motion sensor, which
wakes the screen for a while even outside those hours.

The answer is three-valued on purpose. ``True`` and ``False`` are opinions; ``None`` means "no
schedule was configured (or it could not be read): leave the display alone". A kiosk whose
operator never wrote a schedule, or wrote one we cannot understand, stays as it is (on) rather
than going dark because of a typo.

Nothing here reads a clock, a setting or a pin: callers pass ``now`` (the kiosk's local wall
time) and the parsed windows. Switching the display is :mod:`device.agent.display_power`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {
    "daily": frozenset(range(7)),
    "all": frozenset(range(7)),
    "*": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
IGNORED = "display schedule ignored: the display is left as it is"
_MIDNIGHT_END = re.compile(r"^24:00(?::00)?$")


@dataclass(frozen=True)
class DisplayWindow:
    """The screen is on from ``on`` (inclusive) to ``off`` (exclusive) on each of ``days``.

    ``days`` uses ``datetime.weekday()`` numbering: 0 = Monday … 6 = Sunday. A window whose
    ``off`` is not after ``on`` wraps past midnight and belongs to the day it *began*:
    ``{fri} 22:00–06:00`` covers Friday 22:00 to Saturday 06:00, not Friday 00:00–06:00.
    ``on == off`` is a whole day: 24 hours from ``on``.
    """

    days: frozenset[int]
    on: time
    off: time

    @property
    def wraps(self) -> bool:
        return self.off <= self.on


def window_covers(window: DisplayWindow, now: datetime) -> bool:
    """Whether ``now`` (local wall time) falls inside ``window``.

    The ``on`` edge is inside, the ``off`` edge outside. For a wrapping window the part after
    midnight belongs to the previous day's entry, so Sunday's overnight window lights Monday
    morning (``(0 - 1) % 7 == 6``).
    """
    moment = now.time()
    today = now.weekday()
    if not window.wraps:
        return today in window.days and window.on <= moment < window.off
    started_today = today in window.days and moment >= window.on
    started_yesterday = (today - 1) % 7 in window.days and moment < window.off
    return started_today or started_yesterday


def should_be_on(now: datetime, windows: Sequence[DisplayWindow]) -> bool | None:
    """The schedule's opinion at ``now``: ``True`` inside any window, ``False`` outside all.

    ``None`` when there are no windows: no schedule means "leave the display alone", never
    "off". Overlapping windows simply add up. ``now`` is the kiosk's local wall time; across
    a daylight-saving change the windows follow the wall clock (07:00 stays 07:00).
    """
    if not windows:
        return None
    return any(window_covers(w, now) for w in windows)


def screen_should_be_on(
    now: datetime,
    windows: Sequence[DisplayWindow],
    last_motion: datetime | None,
    motion_wake_s: float,
) -> bool | None:
    """The schedule, plus motion: someone walking up wakes the screen outside hours.

    - No schedule → ``None`` (leave the display alone), whatever the motion sensor says.
    - Inside a window → ``True``.
    - Outside all windows → ``True`` for ``motion_wake_s`` seconds after ``last_motion``
      (the edge at exactly ``motion_wake_s`` is already dark), else ``False``.
    - ``motion_wake_s <= 0`` turns motion wake off. A ``last_motion`` later than ``now`` (the
      clock was stepped back) does not count as recent: it cannot say how long ago it was.

    ``now`` and ``last_motion`` must both be naive or both be aware.
    """
    scheduled = should_be_on(now, windows)
    if scheduled is None or scheduled:
        return scheduled
    if last_motion is None or motion_wake_s <= 0:
        return False
    elapsed = (now - last_motion).total_seconds()
    return 0 <= elapsed < motion_wake_s


# -- operator input -----------------------------------------------------------------------


def parse_schedule(
    data: Sequence[Mapping[str, object]],
) -> tuple[tuple[DisplayWindow, ...], list[str]]:
    """Operator windows → ``(windows, warnings)``; never raises.

    Each entry has ``days`` (``"mon-fri"``, ``"sat,sun"``, ``"fri-mon"`` wraps the week,
    ``"daily"``, ``"weekdays"``, ``"weekends"``, or a list of day names), ``on`` and ``off``
    (``"HH:MM"`` or ``"HH:MM:SS"``, 24-hour, or a TOML time; ``"24:00"`` means midnight).

    If *any* entry is wrong the whole schedule is dropped: the result is ``()`` ("no opinion",
    the display is left alone) and the warnings name every problem. Keeping the good entries
    instead could darken the screen for days because one line had a typo ("mon-fir").
    """
    warnings: list[str] = []
    windows: list[DisplayWindow] = []
    if isinstance(data, str | bytes) or not isinstance(data, Sequence):
        return (), [
            f"schedule must be a list of windows, not {type(data).__name__}",
            IGNORED,
        ]
    for index, entry in enumerate(data, start=1):
        where = f"window {index}"
        if not isinstance(entry, Mapping):
            warnings.append(f"{where}: must be a table with days, on and off")
            continue
        unknown = sorted(set(entry) - {"days", "on", "off"})
        if unknown:
            warnings.append(f"{where}: unknown field(s) {', '.join(unknown)} (days, on, off)")
        problems: list[str] = []
        days = _parse_days(entry.get("days"), problems)
        on = _parse_time(entry.get("on"), "on", problems)
        off = _parse_time(entry.get("off"), "off", problems)
        warnings += [f"{where}: {p}" for p in problems]
        if days is not None and on is not None and off is not None and not problems:
            windows.append(DisplayWindow(days=days, on=on, off=off))
    if warnings:
        return (), [*warnings, IGNORED]
    return tuple(windows), []


def _parse_days(value: object, problems: list[str]) -> frozenset[int] | None:
    if value is None:
        problems.append("days is missing (e.g. 'mon-fri', 'daily', ['sat', 'sun'])")
        return None
    if isinstance(value, str):
        parts = [p.strip().lower() for p in value.split(",")]
    elif isinstance(value, Sequence) and all(isinstance(p, str) for p in value):
        parts = [str(p).strip().lower() for p in value]
    else:
        problems.append(f"days must be text or a list of day names, not {value!r}")
        return None
    days: set[int] = set()
    for part in parts:
        found = _parse_day_part(part)
        if found is None:
            problems.append(
                f"days: {part!r} is not a day, a range like 'mon-fri', or one of "
                "daily, weekdays, weekends"
            )
            return None
        days |= found
    if not days:
        problems.append("days is empty")
        return None
    return frozenset(days)


def _parse_day_part(part: str) -> frozenset[int] | None:
    if part in _DAY_ALIASES:
        return _DAY_ALIASES[part]
    if _is_day_name(part):
        return frozenset({DAY_NAMES.index(part[:3])})
    if "-" in part:
        first, _, last = (p.strip() for p in part.partition("-"))
        if _is_day_name(first) and _is_day_name(last):
            start, end = DAY_NAMES.index(first[:3]), DAY_NAMES.index(last[:3])
            span = (end - start) % 7  # "fri-mon" wraps through the weekend
            return frozenset((start + i) % 7 for i in range(span + 1))
    return None


def _is_day_name(word: str) -> bool:
    """``mon``, ``monday`` (and any prefix of the full name from three letters) count."""
    full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return len(word) >= 3 and any(name.startswith(word) for name in full)


def _parse_time(value: object, field: str, problems: list[str]) -> time | None:
    if value is None:
        problems.append(f"{field} is missing (e.g. '07:30')")
        return None
    if isinstance(value, time):
        return value.replace(tzinfo=None, microsecond=0)
    if isinstance(value, str):
        if _MIDNIGHT_END.match(value.strip()):
            return time(0, 0)  # "until 24:00" is "until midnight"
        match = _TIME.match(value.strip())
        if match:
            hour, minute, second = match.groups()
            return time(int(hour), int(minute), int(second or 0))
    problems.append(f"{field}: {value!r} is not a 24-hour time like '07:30' or '23:00'")
    return None
