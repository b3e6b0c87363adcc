"""Reading the audit log for the console and the API: filtered pages (newest first), batches for
the CSV export (oldest first, up to a fixed end), and a chain check that is itself audited.

Writing stays in :mod:`fleet_manager.store.audit_log` (``record``), as does the chain rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fleet_manager.store.audit_log import AuditEntry, record, verify_chain
from fleet_manager.store.schema import audit_log

VERIFIED = "audit.verified"


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to show. ``action`` ending in ``*`` matches a prefix (``login.*``);
    ``since`` is inclusive, ``until`` exclusive (epoch seconds)."""

    action: str | None = None
    actor: str | None = None
    subject: str | None = None
    since: float | None = None
    until: float | None = None

    def conditions(self) -> list[Any]:
        found: list[Any] = []
        if self.action:
            if self.action.endswith("*"):
                found.append(audit_log.c.action.startswith(self.action[:-1], autoescape=True))
            else:
                found.append(audit_log.c.action == self.action)
        if self.actor:
            found.append(audit_log.c.actor == self.actor)
        if self.subject:
            found.append(audit_log.c.subject == self.subject)
        if self.since is not None:
            found.append(audit_log.c.at >= self.since)
        if self.until is not None:
            found.append(audit_log.c.at < self.until)
        return found

    def as_detail(self) -> dict[str, Any]:
        """The filter as written into the audit log (for an export)."""
        return {k: v for k, v in self.__dict__.items() if v is not None and v != ""}


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(**row._mapping)


def page(
    conn: sa.Connection, where: AuditFilter, limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    """One page of matching entries, newest first, and how many match in all."""
    conditions = where.conditions()
    total = conn.execute(
        sa.select(sa.func.count()).select_from(audit_log).where(*conditions)
    ).scalar_one()
    query = (
        sa.select(audit_log)
        .where(*conditions)
        .order_by(audit_log.c.seq.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_entry(r) for r in conn.execute(query)], int(total)


def last_seq(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.max(audit_log.c.seq))).scalar() or 0)


def batch(
    conn: sa.Connection, where: AuditFilter, after_seq: int, through_seq: int, size: int
) -> list[AuditEntry]:
    """Up to ``size`` matching entries with ``after_seq < seq <= through_seq``, oldest first."""
    query = (
        sa.select(audit_log)
        .where(audit_log.c.seq > after_seq, audit_log.c.seq <= through_seq, *where.conditions())
        .order_by(audit_log.c.seq)
        .limit(size)
    )
    return [_entry(r) for r in conn.execute(query)]


def get(conn: sa.Connection, seq: int) -> AuditEntry | None:
    row = conn.execute(sa.select(audit_log).where(audit_log.c.seq == seq)).first()
    return None if row is None else _entry(row)


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    entries: int  # how many entries were checked
    first_bad_seq: int | None
    recorded_seq: int  # the "audit.verified" entry that records this check


def verify_and_record(conn: sa.Connection, *, actor: str, now: float) -> ChainCheck:
    """Check the whole chain, then append ``audit.verified`` (outcome ok or broken) saying so."""
    entries = int(conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one())
    first_bad = verify_chain(conn)
    digest = record(
        conn,
        at=now,
        actor=actor,
        action=VERIFIED,
        subject="audit_log",
        outcome="ok" if first_bad is None else "broken",
        detail={"entries": entries, "first_bad_seq": first_bad},
    )
    seq = conn.execute(sa.select(audit_log.c.seq).where(audit_log.c.hash == digest)).scalar_one()
    return ChainCheck(first_bad is None, entries, first_bad, int(seq))
