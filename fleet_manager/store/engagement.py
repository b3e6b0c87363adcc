"""Engagement counts: help presses and QR scans per day (UTC), location and language.

Only aggregates are kept (table ``engagement_daily``): no row says who, or exactly when. The
writers (the fleet manager for help presses, the landing page for QR scans) call :func:`count`,
an upsert that works on SQLite and PostgreSQL alike; the console and the API read with
:func:`rows` (scoped like every list) and summarise with the pure :func:`summarize`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, get_args

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from fleet_manager.accounts.policy import QueryScope
from fleet_manager.store.schema import engagement_daily, facilities, locations

Kind = Literal["help", "qr_scan"]
KINDS: tuple[Kind, ...] = get_args(Kind)
UNDETERMINED = "und"
LANGUAGE_MAX = 16
DEFAULT_DAYS = 30
MAX_DAYS = 366

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A BCP 47 tag in its common shapes (language, script, region, variants); anything else is
# recorded as "und" rather than stored as given.
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")


class EngagementError(ValueError):
    """A day, range, kind or count that cannot be used; the message says why."""


# -- pure ---------------------------------------------------------------------------------------


def day_of(t: float) -> str:
    """The UTC day (YYYY-MM-DD) of an epoch time."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


def parse_day(text: str, what: str = "day") -> date:
    """A YYYY-MM-DD day, or :class:`EngagementError`."""
    if not _DAY.fullmatch(text):
        raise EngagementError(f"{what} must be a day as YYYY-MM-DD, not {text[:40]!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise EngagementError(f"{what} {text!r} is not a day of the calendar") from None


def normalize_language(tag: str | None) -> str:
    """The language tag as stored: a well-formed BCP 47 tag (canonical case), else "und"."""
    if tag is None or len(tag) > LANGUAGE_MAX or not _LANGUAGE.fullmatch(tag):
        return UNDETERMINED
    parts = tag.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())  # script
        elif len(part) == 2 and part.isalpha():
            out.append(part.upper())  # region
        else:
            out.append(part.lower())
    return "-".join(out)


@dataclass(frozen=True)
class DayRange:
    since: date
    until: date

    @property
    def days(self) -> list[str]:
        n = (self.until - self.since).days + 1
        return [(self.since + timedelta(days=i)).isoformat() for i in range(n)]


def resolve_range(since: str | None, until: str | None, today: date) -> DayRange:
    """The days asked for: by default the last :data:`DEFAULT_DAYS` up to ``today``; at most
    :data:`MAX_DAYS`; :class:`EngagementError` for anything else."""
    end = parse_day(until, "until") if until else today
    try:
        start = parse_day(since, "since") if since else end - timedelta(days=DEFAULT_DAYS - 1)
    except OverflowError:
        raise EngagementError(f"until ({end}) is too early") from None
    if start > end:
        raise EngagementError(f"since ({start}) is after until ({end})")
    if (end - start).days + 1 > MAX_DAYS:
        raise EngagementError(f"a range covers at most {MAX_DAYS} days")
    return DayRange(start, end)


@dataclass(frozen=True)
class EngagementRow:
    day: str
    location_id: str
    location_name: str
    facility_id: str
    facility_name: str
    region: str
    kind: str
    language: str
    count: int


@dataclass(frozen=True)
class DayTotals:
    day: str
    help: int
    qr_scan: int


@dataclass(frozen=True)
class LocationTotals:
    location_id: str
    location_name: str
    facility_id: str
    facility_name: str
    region: str
    help: int
    qr_scan: int

    @property
    def total(self) -> int:
        return self.help + self.qr_scan


@dataclass(frozen=True)
class LanguageTotals:
    language: str
    help: int
    qr_scan: int

    @property
    def total(self) -> int:
        return self.help + self.qr_scan


@dataclass(frozen=True)
class Summary:
    per_day: tuple[DayTotals, ...]  # every day of the range, zeros included, oldest first
    per_location: tuple[LocationTotals, ...]  # busiest first
    per_language: tuple[LanguageTotals, ...]  # busiest first
    help: int
    qr_scan: int


def summarize(found: Iterable[EngagementRow], days: Sequence[str]) -> Summary:
    """Totals per day and kind (every day of ``days``), per location and per language."""
    by_day: dict[str, dict[str, int]] = {d: {k: 0 for k in KINDS} for d in days}
    by_location: dict[str, tuple[EngagementRow, dict[str, int]]] = {}
    by_language: dict[str, dict[str, int]] = {}
    totals = {k: 0 for k in KINDS}
    for row in found:
        if row.kind not in totals:
            continue
        by_day.setdefault(row.day, {k: 0 for k in KINDS})[row.kind] += row.count
        by_location.setdefault(row.location_id, (row, {k: 0 for k in KINDS}))[1][row.kind] += (
            row.count
        )
        by_language.setdefault(row.language, {k: 0 for k in KINDS})[row.kind] += row.count
        totals[row.kind] += row.count
    locations_ = [
        LocationTotals(
            r.location_id,
            r.location_name,
            r.facility_id,
            r.facility_name,
            r.region,
            c["help"],
            c["qr_scan"],
        )
        for r, c in by_location.values()
    ]
    languages = [LanguageTotals(lang, c["help"], c["qr_scan"]) for lang, c in by_language.items()]
    return Summary(
        per_day=tuple(DayTotals(d, c["help"], c["qr_scan"]) for d, c in sorted(by_day.items())),
        per_location=tuple(sorted(locations_, key=lambda t: (-t.total, t.location_id))),
        per_language=tuple(sorted(languages, key=lambda t: (-t.total, t.language))),
        help=totals["help"],
        qr_scan=totals["qr_scan"],
    )


# -- store --------------------------------------------------------------------------------------


def count(
    conn: sa.Connection, day: str, location_id: str, kind: str, language: str | None, n: int = 1
) -> None:
    """Add ``n`` to the day's count for the location, kind and language (an upsert, safe for
    several writers at once on SQLite and PostgreSQL). The language is normalised
    (:func:`normalize_language`); :class:`EngagementError` for a bad day, kind or count."""
    parse_day(day)
    if kind not in KINDS:
        raise EngagementError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if n < 1:
        raise EngagementError("the count to add must be at least 1")
    values = {
        "day": day,
        "location_id": location_id,
        "kind": kind,
        "language": normalize_language(language),
        "count": n,
    }
    keys = [
        engagement_daily.c.day,
        engagement_daily.c.location_id,
        engagement_daily.c.kind,
        engagement_daily.c.language,
    ]
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(engagement_daily)
        stmt = insert.values(**values).on_conflict_do_update(
            index_elements=keys, set_={"count": engagement_daily.c.count + insert.excluded.count}
        )
        conn.execute(stmt)
        return
    # Another database: update, then insert if there was nothing to update.
    where = sa.and_(*(col == values[col.name] for col in keys))
    updated = conn.execute(
        engagement_daily.update().where(where).values(count=engagement_daily.c.count + n)
    )
    if updated.rowcount == 0:
        conn.execute(engagement_daily.insert().values(**values))


def rows(
    conn: sa.Connection,
    since_day: str,
    until_day: str,
    scope: QueryScope,
    facility: str | None = None,
) -> list[EngagementRow]:
    """The counts of the days ``since_day``..``until_day`` (inclusive) at the locations the
    scope shows (and of one facility, if given), with location and facility names."""
    query = (
        sa.select(
            engagement_daily.c.day,
            engagement_daily.c.location_id,
            locations.c.name.label("location_name"),
            facilities.c.facility_id,
            facilities.c.name.label("facility_name"),
            facilities.c.region,
            engagement_daily.c.kind,
            engagement_daily.c.language,
            engagement_daily.c["count"],
        )
        .select_from(
            engagement_daily.join(
                locations, locations.c.location_id == engagement_daily.c.location_id
            ).join(facilities, facilities.c.facility_id == locations.c.facility_id)
        )
        .where(
            engagement_daily.c.day >= since_day,
            engagement_daily.c.day <= until_day,
            scope.where(facilities.c.facility_id, facilities.c.region),
        )
        .order_by(
            engagement_daily.c.day,
            engagement_daily.c.location_id,
            engagement_daily.c.kind,
            engagement_daily.c.language,
        )
    )
    if facility is not None:
        query = query.where(facilities.c.facility_id == facility)
    return [EngagementRow(**row._mapping) for row in conn.execute(query)]
