"""Which rows a live feed sends (pure): each version once, late commits within the overlap
still sent, nothing from before the page; and where a stream starts."""

from __future__ import annotations

import pytest

from fleet_manager.console.live_feed import (
    MAX_BACKLOG_S,
    Change,
    Cursor,
    advance,
    row_event,
    start_cursor,
)

NOW = 1_700_000_000.0


def C(key: str, version: int, at: float) -> Change:
    return Change(key, version, at)


@pytest.mark.parametrize(
    ("cursor", "changes", "sent", "cursor_at"),
    [
        # Nothing new: the cursor stays.
        (Cursor(NOW, NOW), [], [], NOW),
        # New rows, oldest first: all sent, cursor at the newest.
        (Cursor(NOW, NOW), [C("a", 1, NOW + 1), C("b", 1, NOW + 2)], [0, 1], NOW + 2),
        # Before the page's time: already on the page.
        (Cursor(NOW, NOW), [C("a", 1, NOW - 1), C("b", 1, NOW)], [1], NOW),
        # Already sent (same version, read again in the overlap): not again.
        (
            Cursor(NOW + 2, NOW, frozenset({("a", 1, NOW + 1), ("b", 1, NOW + 2)})),
            [C("a", 1, NOW + 1), C("b", 1, NOW + 2)],
            [],
            NOW + 2,
        ),
        # A new version of a sent row: sent.
        (
            Cursor(NOW + 2, NOW, frozenset({("a", 1, NOW + 1)})),
            [C("a", 1, NOW + 1), C("a", 2, NOW + 3)],
            [1],
            NOW + 3,
        ),
        # Committed late with an older time than the cursor (another instance): still sent.
        (
            Cursor(NOW + 5, NOW, frozenset({("b", 1, NOW + 5)})),
            [C("a", 1, NOW + 4), C("b", 1, NOW + 5)],
            [0],
            NOW + 5,
        ),
    ],
)
def test_advance(cursor: Cursor, changes: list[Change], sent: list[int], cursor_at: float) -> None:
    send, after = advance(cursor, changes, overlap=5.0)
    assert send == sent
    assert after.at == cursor_at
    assert after.floor == cursor.floor


def test_the_memory_of_sent_rows_stays_within_the_overlap() -> None:
    cursor = Cursor(NOW, NOW)
    for step in range(1, 100):
        _send, cursor = advance(cursor, [C(f"k{step}", 1, NOW + step)], overlap=5.0)
    assert {key for key, _v, _at in cursor.sent} == {f"k{s}" for s in range(94, 100)}


def test_read_from_goes_back_by_the_overlap_but_not_before_the_floor() -> None:
    assert Cursor(NOW + 10, NOW).read_from(5.0) == NOW + 5
    assert Cursor(NOW + 2, NOW).read_from(5.0) == NOW


@pytest.mark.parametrize(
    ("since", "last_event_id", "start"),
    [
        (None, None, NOW),
        (str(NOW - 10), None, NOW - 10),
        (str(NOW - 10), str(NOW - 3), NOW - 3),  # a reconnect resumes where it stopped
        ("garbage", None, NOW),
        ("nan", "also garbage", NOW),
        (str(NOW + 100), None, NOW),  # never in the future
        ("0", None, NOW - MAX_BACKLOG_S),  # never further back than the backlog
        ("-inf", None, NOW - MAX_BACKLOG_S),
    ],
)
def test_start_cursor(since: str | None, last_event_id: str | None, start: float) -> None:
    cursor = start_cursor(since, last_event_id, NOW)
    assert (cursor.at, cursor.floor, cursor.sent) == (start, start, frozenset())


def test_row_event_is_one_sse_event_with_json_data() -> None:
    text = row_event("incident-1", '<tr id="incident-1">\n<td>x</td></tr>', NOW + 0.25)
    assert text.endswith("\n\n")
    lines = text[:-2].split("\n")
    assert lines[0] == "event: row"
    assert lines[1] == f"id: {NOW + 0.25!r}"
    assert lines[2].startswith("data: {") and len(lines) == 3  # the newline is JSON-escaped
