"""Encrypted reports, their entries and the regions' public keys (store side).

Nothing here sees plaintext: the landing page seals each entry before calling :func:`open_report`
or :func:`add_entry`. Entries wait with ``delivered_at`` empty until a fleet manager has put
them on their incident (:func:`undelivered`, :func:`mark_delivered`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from fleet_manager.store.schema import report_entries, report_keys, reports

MAX_ENTRIES = 50


class ReportStoreError(ValueError):
    """A key or report that cannot be stored as asked; the message says why."""


@dataclass(frozen=True)
class RegionKey:
    key_id: str
    region: str
    public_key: str
    added_at: float
    added_by: str
    retired_at: float | None


@dataclass(frozen=True)
class ReportRow:
    report_id: str
    passphrase_hash: str
    region: str
    facility_id: str | None
    location_id: str
    incident_id: str
    created_at: float


@dataclass(frozen=True)
class EntryRow:
    report_id: str
    seq: int
    key_id: str
    ciphertext: bytes
    created_at: float
    delivered_at: float | None


# -- keys ---------------------------------------------------------------------------------------


def add_key(
    conn: sa.Connection, *, key_id: str, region: str, public_key: str, by: str, now: float
) -> None:
    """Register a region's public key; the newest unretired key of a region seals new entries."""
    existing = conn.execute(
        sa.select(report_keys.c.region).where(report_keys.c.key_id == key_id)
    ).scalar()
    if existing is not None:
        raise ReportStoreError(f"key {key_id} is already registered (region {existing})")
    conn.execute(
        report_keys.insert().values(
            key_id=key_id, region=region, public_key=public_key, added_at=now, added_by=by
        )
    )


def retire_key(conn: sa.Connection, key_id: str, now: float) -> bool:
    return bool(
        conn.execute(
            report_keys.update()
            .where(report_keys.c.key_id == key_id, report_keys.c.retired_at.is_(None))
            .values(retired_at=now)
        ).rowcount
    )


def keys(conn: sa.Connection, region: str | None = None) -> list[RegionKey]:
    query = sa.select(report_keys).order_by(report_keys.c.region, report_keys.c.added_at)
    if region is not None:
        query = query.where(report_keys.c.region == region)
    return [RegionKey(**row._mapping) for row in conn.execute(query)]


def active_keys(conn: sa.Connection) -> dict[str, RegionKey]:
    """Region → the key new entries are sealed to (the newest one not retired)."""
    chosen: dict[str, RegionKey] = {}
    for key in keys(conn):
        if key.retired_at is None:
            chosen[key.region] = key  # ordered by added_at: the newest wins
    return chosen


# -- reports ------------------------------------------------------------------------------------


def open_report(
    conn: sa.Connection,
    *,
    report: ReportRow,
    case_digest: str,
    key_id: str,
    ciphertext: bytes,
) -> None:
    conn.execute(reports.insert().values(case_digest=case_digest, **report.__dict__))
    _insert_entry(conn, report.report_id, 1, key_id, ciphertext, report.created_at)


def _insert_entry(
    conn: sa.Connection, report_id: str, seq: int, key_id: str, ciphertext: bytes, now: float
) -> None:
    conn.execute(
        report_entries.insert().values(
            report_id=report_id, seq=seq, key_id=key_id, ciphertext=ciphertext, created_at=now
        )
    )


# Everything of a report but the code's digest (which only finds it).
_REPORT_COLUMNS = [c for c in reports.c if c.name != "case_digest"]


def _report_where(conn: sa.Connection, clause: sa.ColumnElement[bool]) -> ReportRow | None:
    row = conn.execute(sa.select(*_REPORT_COLUMNS).where(clause)).first()
    return None if row is None else ReportRow(*row)


def find_by_code(conn: sa.Connection, case_digest: str) -> ReportRow | None:
    return _report_where(conn, reports.c.case_digest == case_digest)


def report_for_incident(conn: sa.Connection, incident_id: str) -> ReportRow | None:
    return _report_where(conn, reports.c.incident_id == incident_id)


def entry_count(conn: sa.Connection, report_id: str) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(report_entries)
            .where(report_entries.c.report_id == report_id)
        ).scalar_one()
    )


def next_seq(conn: sa.Connection, report_id: str) -> int:
    current = conn.execute(
        sa.select(sa.func.max(report_entries.c.seq)).where(report_entries.c.report_id == report_id)
    ).scalar()
    return 1 if current is None else int(current) + 1


def add_entry(
    conn: sa.Connection, report_id: str, seq: int, key_id: str, ciphertext: bytes, now: float
) -> None:
    """Entry ``seq`` (from :func:`next_seq`, sealed for that number); a concurrent addition
    with the same number fails on the primary key and is retried by the caller."""
    if seq > MAX_ENTRIES:
        raise ReportStoreError(f"a report holds at most {MAX_ENTRIES} entries")
    _insert_entry(conn, report_id, seq, key_id, ciphertext, now)


def entries(conn: sa.Connection, report_id: str) -> list[EntryRow]:
    rows = conn.execute(
        sa.select(report_entries)
        .where(report_entries.c.report_id == report_id)
        .order_by(report_entries.c.seq)
    )
    return [EntryRow(**row._mapping) for row in rows]


def undelivered(conn: sa.Connection, limit: int = 50) -> list[tuple[ReportRow, int]]:
    """(report, entry number) of entries no fleet manager has put on their incident yet,
    oldest first."""
    rows = conn.execute(
        sa.select(*_REPORT_COLUMNS, report_entries.c.seq)
        .join(report_entries, report_entries.c.report_id == reports.c.report_id)
        .where(report_entries.c.delivered_at.is_(None))
        .order_by(report_entries.c.created_at, report_entries.c.seq)
        .limit(limit)
    ).all()
    return [(ReportRow(*row[:-1]), int(row[-1])) for row in rows]


def mark_delivered(conn: sa.Connection, report_id: str, seq: int, now: float) -> None:
    conn.execute(
        report_entries.update()
        .where(
            report_entries.c.report_id == report_id,
            report_entries.c.seq == seq,
            report_entries.c.delivered_at.is_(None),
        )
        .values(delivered_at=now)
    )
