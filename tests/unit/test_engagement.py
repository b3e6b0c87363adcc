"""Engagement's pure parts: days, ranges, language tags, summaries, CSV safety."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from fleet_manager.csv_export import safe_cell, to_csv
from fleet_manager.store.engagement import (
    DayRange,
    EngagementError,
    EngagementRow,
    day_of,
    normalize_language,
    resolve_range,
    summarize,
)

TODAY = date(2024, 5, 31)


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (None, None, (date(2024, 5, 2), TODAY)),
        ("2024-05-01", None, (date(2024, 5, 1), TODAY)),
        (None, "2024-03-31", (date(2024, 3, 2), date(2024, 3, 31))),
        ("2024-05-01", "2024-05-01", (date(2024, 5, 1), date(2024, 5, 1))),
        ("2023-06-01", "2024-05-31", (date(2023, 6, 1), TODAY)),  # 366 days
    ],
)
def test_resolve_range(since: str | None, until: str | None, expected: tuple[date, date]) -> None:
    assert resolve_range(since, until, TODAY) == DayRange(*expected)


@pytest.mark.parametrize(
    ("since", "until", "problem"),
    [
        ("2024-02-30", None, "not a day"),
        ("20240501", None, "YYYY-MM-DD"),
        ("2024-05-02", "2024-05-01", "after"),
        ("2023-05-31", "2024-05-31", "at most 366"),
        ("2024-06-01", None, "after"),  # since in the future, until defaults to today
        (None, "0001-01-01", "too early"),  # the default start would be before year 1
    ],
)
def test_resolve_range_refuses(since: str | None, until: str | None, problem: str) -> None:
    with pytest.raises(EngagementError, match=problem):
        resolve_range(since, until, TODAY)


@pytest.mark.parametrize(
    ("tag", "stored"),
    [
        ("en", "en"),
        ("EN-gb", "en-GB"),
        ("zh-hant-TW", "zh-Hant-TW"),
        ("es-419", "es-419"),
        (None, "und"),
        ("", "und"),
        ("english please", "und"),
        ("x" * 20, "und"),
        ("e", "und"),
    ],
)
def test_normalize_language(tag: str | None, stored: str) -> None:
    assert normalize_language(tag) == stored


def test_day_of_is_utc() -> None:
    assert day_of(0) == "1970-01-01"
    assert day_of(86399.9) == "1970-01-01"
    assert day_of(86400) == "1970-01-02"


def row(day: str, location: str, kind: str, language: str, n: int) -> EngagementRow:
    return EngagementRow(day, location, location.upper(), "f", "F", "r", kind, language, n)


def test_summarize_fills_every_day_and_ranks_busiest_first() -> None:
    found = [
        row("2024-05-01", "a", "help", "en", 2),
        row("2024-05-01", "b", "qr_scan", "fr", 5),
        row("2024-05-03", "a", "qr_scan", "en", 1),
    ]
    days = DayRange(date(2024, 5, 1), date(2024, 5, 3)).days
    s = summarize(found, days)
    assert [(d.day, d.help, d.qr_scan) for d in s.per_day] == [
        ("2024-05-01", 2, 5),
        ("2024-05-02", 0, 0),
        ("2024-05-03", 0, 1),
    ]
    assert [(t.location_id, t.help, t.qr_scan) for t in s.per_location] == [
        ("b", 0, 5),
        ("a", 2, 1),
    ]
    assert [(t.language, t.total) for t in s.per_language] == [("fr", 5), ("en", 3)]
    assert (s.help, s.qr_scan) == (2, 6)


def test_summarize_nothing() -> None:
    s = summarize([], ["2024-05-01"])
    assert s.per_location == () and s.per_language == () and s.help == s.qr_scan == 0
    assert len(s.per_day) == 1


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (-2, -2),
        (1.5, 1.5),
        (None, ""),
        (True, "true"),
    ],
)
def test_safe_cell(value: str | int | float | None, written: str | int | float) -> None:
    assert safe_cell(value) == written


def test_to_csv_has_a_header_and_quotes_what_needs_it() -> None:
    text = to_csv(["a", "b"], [["x,y", '=HYPERLINK("u")'], [1, None]])
    assert list(csv.reader(io.StringIO(text))) == [
        ["a", "b"],
        ["x,y", '\'=HYPERLINK("u")'],
        ["1", ""],
    ]
