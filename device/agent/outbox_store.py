"""The outbox on disk: sqlite-utils, WAL, synchronous=FULL.

FULL makes each alert durable against power loss before it is published: on a kiosk the cost
(an fsync) is paid once per alert, and losing a help request to a pulled plug is not an option.
All decisions are in :mod:`device.agent.outbox_policy`; this only stores entries.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlite_utils

from device.agent.outbox_policy import OutboxEntry

_COLUMNS = {
    "alert_id": str,
    "kind": str,
    "source": str,
    "location": str,
    "created_at": float,
    "state": str,
    "attempts": int,
    "last_sent_at": float,
    "confirmed_at": float,
}


class OutboxStore:
    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        # One connection shared by the agent's threads, serialised by the lock.
        conn = sqlite3.connect(str(path), check_same_thread=False)
        self._db = sqlite_utils.Database(conn)
        self._db.conn.execute("PRAGMA journal_mode=WAL")
        self._db.conn.execute("PRAGMA synchronous=FULL")
        self._table = self._db.table("outbox")
        if not self._table.exists():
            self._table.create(_COLUMNS, pk="alert_id", not_null={"kind", "state", "created_at"})
            self._table.create_index(["state"])

    def put(self, entry: OutboxEntry) -> None:
        with self._lock, self._db.conn:
            self._table.upsert(asdict(entry), pk="alert_id")

    def get(self, alert_id: str) -> OutboxEntry | None:
        with self._lock:
            rows = list(self._table.rows_where("alert_id = ?", [alert_id]))
        return _entry(rows[0]) if rows else None

    def unconfirmed(self) -> list[OutboxEntry]:
        with self._lock:
            rows = list(self._table.rows_where("state != 'confirmed'", order_by="created_at"))
        return [_entry(r) for r in rows]

    def recent(self, limit: int = 20) -> list[OutboxEntry]:
        with self._lock:
            rows = list(self._table.rows_where(order_by="created_at desc", limit=limit))
        return [_entry(r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.conn.close()


def _entry(row: dict[str, Any]) -> OutboxEntry:
    return OutboxEntry(**{k: row[k] for k in _COLUMNS})
