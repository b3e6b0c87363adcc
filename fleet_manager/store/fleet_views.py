"""Kiosks as the console and the API list them: one joined query, scoped and paginated.

A kiosk's facility and region come from its registry location (``devices → locations →
facilities``, outer joins). A kiosk without a location (seen but never registered) has neither,
so a scoped viewer's condition (``facility IN (…) OR region IN (…)``) never matches it: only
fleet-wide grants see such kiosks. Pagination is by ``device_id`` (the primary key), so a page
of 100 among 10,000 kiosks reads an index range, and the count uses the same joins.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import sqlalchemy as sa

from fleet_manager.accounts.policy import QueryScope
from fleet_manager.store.schema import devices, facilities, locations

KioskStatus = Literal["online", "offline"]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class KioskFilter:
    region: str | None = None
    facility: str | None = None
    status: KioskStatus | None = None
    lifecycle: str | None = None
    q: str | None = None  # part of the device id or of the location's name
    limit: int = DEFAULT_LIMIT
    offset: int = 0


@dataclass(frozen=True)
class KioskRow:
    device_id: str
    online: bool
    last_heartbeat_at: float | None
    status_at: float | None
    content_version: str | None
    app_version: str | None
    channel: str
    lifecycle: str
    location_id: str | None
    location_name: str | None
    facility_id: str | None
    facility_name: str | None
    region: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class KioskCounts:
    online: int
    offline: int

    @property
    def total(self) -> int:
        return self.online + self.offline


_COLUMNS = (
    devices.c.device_id,
    devices.c.online,
    devices.c.last_heartbeat_at,
    devices.c.status_at,
    devices.c.content_version,
    devices.c.app_version,
    devices.c.channel,
    devices.c.lifecycle,
    devices.c.location_id,
    locations.c.name.label("location_name"),
    facilities.c.facility_id,
    facilities.c.name.label("facility_name"),
    facilities.c.region,
)

_JOINED = devices.outerjoin(locations, devices.c.location_id == locations.c.location_id).outerjoin(
    facilities, locations.c.facility_id == facilities.c.facility_id
)
# Inner joins, for a query that only wants placed kiosks anyway (a scoped viewer, or a filter
# on facility or region): the planner may then start from the facility's few locations.
_PLACED = devices.join(locations, devices.c.location_id == locations.c.location_id).join(
    facilities, locations.c.facility_id == facilities.c.facility_id
)


def _source(scope: QueryScope, f: KioskFilter) -> Any:
    return _JOINED if scope.everything and not (f.region or f.facility) else _PLACED


def _row(row: Any) -> KioskRow:
    return KioskRow(**row._mapping)


def _device_conditions(f: KioskFilter, *, with_status: bool = True) -> list[Any]:
    where: list[Any] = []
    if with_status and f.status is not None:
        where.append(devices.c.online.is_(f.status == "online"))
    if f.lifecycle:
        where.append(devices.c.lifecycle == f.lifecycle)
    return where


def _conditions(scope: QueryScope, f: KioskFilter, *, with_status: bool = True) -> list[Any]:
    where: list[Any] = [scope.where(facilities.c.facility_id, facilities.c.region)]
    if f.region:
        where.append(facilities.c.region == f.region)
    if f.facility:
        where.append(facilities.c.facility_id == f.facility)
    where += _device_conditions(f, with_status=with_status)
    if f.q:
        where.append(
            sa.or_(
                devices.c.device_id.contains(f.q, autoescape=True),
                locations.c.name.contains(f.q, autoescape=True),
            )
        )
    return where


def list_kiosks(
    conn: sa.Connection, scope: QueryScope, f: KioskFilter
) -> tuple[int, list[KioskRow]]:
    """(how many match, the page of them ordered by device id)."""
    if scope.is_empty():
        return 0, []
    where = _conditions(scope, f)
    source = _source(scope, f)
    if source is _JOINED and not f.q:  # nothing needs the joins to be counted
        counted = sa.select(sa.func.count()).select_from(devices).where(*_device_conditions(f))
    else:
        counted = sa.select(sa.func.count()).select_from(source).where(*where)
    total = conn.execute(counted).scalar()
    rows = conn.execute(
        sa.select(*_COLUMNS)
        .select_from(source)
        .where(*where)
        .order_by(devices.c.device_id)
        .limit(max(1, min(f.limit, MAX_LIMIT)))
        .offset(max(0, f.offset))
    )
    return int(total or 0), [_row(r) for r in rows]


def count_kiosks(conn: sa.Connection, scope: QueryScope, f: KioskFilter) -> KioskCounts:
    """Online and offline kiosks matching ``f`` (its status ignored): the page's cards."""
    if scope.is_empty():
        return KioskCounts(0, 0)
    online = sa.func.coalesce(sa.func.sum(sa.case((devices.c.online.is_(True), 1), else_=0)), 0)
    source = _source(scope, f)
    if source is _JOINED and not f.q:
        counted = sa.select(online, sa.func.count()).where(
            *_device_conditions(f, with_status=False)
        )
    else:
        counted = (
            sa.select(online, sa.func.count())
            .select_from(source)
            .where(*_conditions(scope, f, with_status=False))
        )
    row = conn.execute(counted).one()
    return KioskCounts(online=int(row[0]), offline=int(row[1]) - int(row[0]))


def get_kiosk(conn: sa.Connection, device_id: str) -> KioskRow | None:
    row = conn.execute(
        sa.select(*_COLUMNS).select_from(_JOINED).where(devices.c.device_id == device_id)
    ).first()
    return None if row is None else _row(row)


def kiosks_changed(
    conn: sa.Connection, scope: QueryScope, f: KioskFilter, since: float, limit: int = 200
) -> list[KioskRow]:
    """Kiosks whose online/offline status changed at or after ``since`` (the live fleet page),
    oldest change first. ``devices.status_at`` has no index: a scan of the devices table
    (10,000 rows) per poll, which SQLite and PostgreSQL do in a few milliseconds."""
    if scope.is_empty():
        return []
    rows = conn.execute(
        sa.select(*_COLUMNS)
        .select_from(_source(scope, f))
        .where(*_conditions(scope, f, with_status=False), devices.c.status_at >= since)
        .order_by(devices.c.status_at, devices.c.device_id)
        .limit(limit)
    )
    return [_row(r) for r in rows]


def filter_choices(conn: sa.Connection, scope: QueryScope) -> list[tuple[str, str, str]]:
    """(facility id, name, region) of the facilities the scope shows, for the filter form."""
    if scope.is_empty():
        return []
    rows = conn.execute(
        sa.select(facilities.c.facility_id, facilities.c.name, facilities.c.region)
        .where(scope.where(facilities.c.facility_id, facilities.c.region))
        .order_by(facilities.c.region, facilities.c.facility_id)
    )
    return [(r[0], r[1], r[2]) for r in rows]
