"""The audit log: append-only, hash-chained, and never holding report contents or personal data.

Each entry's hash covers the previous entry's hash and its own fields (canonical JSON), so an
edited, removed or reordered entry breaks every hash after it; :func:`verify_chain` finds the
first break. ``prev_hash`` is unique, so two writers appending at once cannot fork the chain:
the loser's insert fails and it retries on the new tail.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fleet_manager.store.schema import audit_log

GENESIS = "0" * 64
MAX_APPEND_ATTEMPTS = 5


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: float
    actor: str
    action: str
    subject: str
    outcome: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


def entry_hash(
    prev_hash: str,
    at: float,
    actor: str,
    action: str,
    subject: str,
    outcome: str,
    detail: Mapping[str, Any],
) -> str:
    """The chain rule (pure): SHA-256 over the previous hash and this entry's fields."""
    body = json.dumps(
        [prev_hash, repr(float(at)), actor, action, subject, outcome, dict(detail)],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _tail_hash(conn: sa.Connection) -> str:
    last = conn.execute(
        sa.select(audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).scalar()
    return str(last) if last is not None else GENESIS


def record(
    conn: sa.Connection,
    *,
    at: float,
    actor: str,
    action: str,
    subject: str,
    outcome: str,
    detail: Mapping[str, Any] | None = None,
) -> str:
    """Append one entry inside the caller's transaction; returns its hash."""
    details = dict(detail or {})
    for attempt in range(MAX_APPEND_ATTEMPTS):
        prev = _tail_hash(conn)
        digest = entry_hash(prev, at, actor, action, subject, outcome, details)
        try:
            with conn.begin_nested():
                conn.execute(
                    audit_log.insert().values(
                        at=at,
                        actor=actor,
                        action=action,
                        subject=subject,
                        outcome=outcome,
                        detail=details,
                        prev_hash=prev,
                        hash=digest,
                    )
                )
            return digest
        except sa.exc.IntegrityError:
            if attempt == MAX_APPEND_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def entries(
    conn: sa.Connection, action: str | None = None, subject: str | None = None
) -> list[AuditEntry]:
    query = sa.select(audit_log).order_by(audit_log.c.seq)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if subject is not None:
        query = query.where(audit_log.c.subject == subject)
    return [AuditEntry(**row._mapping) for row in conn.execute(query)]


def verify_chain(conn: sa.Connection) -> int | None:
    """The seq of the first entry that does not chain, or None if the whole log verifies."""
    prev = GENESIS
    for entry in entries(conn):
        expected = entry_hash(
            prev, entry.at, entry.actor, entry.action, entry.subject, entry.outcome, entry.detail
        )
        if entry.prev_hash != prev or entry.hash != expected:
            return entry.seq
        prev = entry.hash
    return None
