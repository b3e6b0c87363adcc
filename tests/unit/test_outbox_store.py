"""device.agent.outbox_store on a real SQLite file: entries are stored, listed and durable."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from device.agent.outbox_policy import OutboxEntry, mark_confirmed, mark_sent
from device.agent.outbox_store import OutboxStore


def _entry(n: int, created_at: float) -> OutboxEntry:
    return OutboxEntry(
        alert_id=f"00000000-0000-4000-8000-{n:012d}",
        kind="help",
        source="button",
        location=f"loc-{n}",
        created_at=created_at,
    )


A = _entry(1, 100.0)
B = _entry(2, 200.5)
C = _entry(3, 150.25)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "outbox.db"


@pytest.fixture
def store(path: Path) -> Iterator[OutboxStore]:
    s = OutboxStore(path)
    yield s
    s.close()


def test_put_get_round_trip(store: OutboxStore) -> None:
    sent = mark_sent(A, 101.5)
    store.put(sent)
    assert store.get(A.alert_id) == sent


def test_get_missing_is_none(store: OutboxStore) -> None:
    assert store.get("no-such-alert") is None


def test_put_replaces_by_alert_id(store: OutboxStore) -> None:
    store.put(A)
    sent = mark_sent(mark_sent(A, 101.0), 103.0)
    store.put(sent)
    confirmed = mark_confirmed(sent, 104.0)
    store.put(confirmed)
    assert store.get(A.alert_id) == replace(
        A, state="confirmed", attempts=2, last_sent_at=103.0, confirmed_at=104.0
    )
    assert store.recent() == [confirmed]


def test_unconfirmed_in_creation_order(store: OutboxStore) -> None:
    for entry in (B, A, C):
        store.put(entry)
    assert store.unconfirmed() == [A, C, B]
    store.put(mark_confirmed(C, 300.0))
    assert store.unconfirmed() == [A, B]
    store.put(mark_sent(A, 301.0))
    assert store.unconfirmed() == [mark_sent(A, 301.0), B]


def test_recent_newest_first_with_limit(store: OutboxStore) -> None:
    entries = [_entry(n, 1000.0 + n) for n in range(30)]
    for entry in entries:
        store.put(entry)
    assert store.recent() == entries[::-1][:20]
    assert store.recent(limit=3) == [entries[29], entries[28], entries[27]]
    confirmed = mark_confirmed(entries[29], 2000.0)
    store.put(confirmed)
    assert store.recent(limit=1) == [confirmed]


def test_empty_store(store: OutboxStore) -> None:
    assert store.unconfirmed() == []
    assert store.recent() == []


def test_entries_survive_close_and_reopen(path: Path) -> None:
    first = OutboxStore(path)
    sent = mark_sent(A, 100.5)
    confirmed = mark_confirmed(mark_sent(B, 201.0), 202.0)
    first.put(sent)
    first.put(confirmed)
    first.put(C)
    first.close()

    second = OutboxStore(path)
    try:
        assert second.get(A.alert_id) == sent
        assert second.get(B.alert_id) == confirmed
        assert second.unconfirmed() == [sent, C]
        assert second.recent() == [confirmed, C, sent]
    finally:
        second.close()


def test_written_entries_are_visible_to_another_connection(path: Path, store: OutboxStore) -> None:
    # put() commits: a second reader (or a crash right after) sees the entry.
    store.put(A)
    other = sqlite3.connect(path)
    try:
        rows = other.execute("SELECT alert_id, state, attempts FROM outbox").fetchall()
    finally:
        other.close()
    assert rows == [(A.alert_id, "pending", 0)]


def test_journal_mode_is_wal_and_sync_full(path: Path, store: OutboxStore) -> None:
    store.put(A)
    assert path.with_name("outbox.db-wal").exists()
    other = sqlite3.connect(path)
    try:
        # WAL is a persistent property of the file; any connection sees it.
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        other.close()
    conn = store._db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_schema(path: Path, store: OutboxStore) -> None:
    other = sqlite3.connect(path)
    try:
        columns = {
            row[1]: (row[2], bool(row[3]), bool(row[5]))
            for row in other.execute("PRAGMA table_info(outbox)")
        }
        indexes = [row[1] for row in other.execute("PRAGMA index_list(outbox)")]
    finally:
        other.close()
    assert columns == {
        "alert_id": ("TEXT", False, True),
        "kind": ("TEXT", True, False),
        "source": ("TEXT", False, False),
        "location": ("TEXT", False, False),
        "created_at": ("REAL", True, False),
        "state": ("TEXT", True, False),
        "attempts": ("INTEGER", False, False),
        "last_sent_at": ("REAL", False, False),
        "confirmed_at": ("REAL", False, False),
    }
    assert "idx_outbox_state" in indexes
