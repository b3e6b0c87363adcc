"""Incidents as the console and the API list them: newest first, scoped, and fast at 100,000.

The list reads ``ix_incidents_opened_at`` backwards and stops at the page; nothing here scans
the whole table. The count is capped (:data:`COUNT_CAP`): "more than 10,000" is all a person
paging through incidents needs, and counting exactly would read every matching row. The live
feed reads ``ix_incidents_updated_at`` from its cursor on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from fleet_manager.accounts.policy import QueryScope
from fleet_manager.store.schema import incidents

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
COUNT_CAP = 10_000


@dataclass(frozen=True)
class IncidentFilter:
    state: str | None = None
    kind: str | None = None
    drill: bool | None = None
    region: str | None = None
    facility: str | None = None
    since: float | None = None  # opened at or after
    limit: int = DEFAULT_LIMIT
    offset: int = 0


@dataclass(frozen=True)
class IncidentRow:
    """What a list row shows (the detail reads the whole record from incident_store)."""

    incident_id: str
    version: int
    state: str
    kind: str
    drill: bool
    region: str
    facility_id: str | None
    location_id: str
    location_name: str | None
    device_id: str
    opened_at: float
    updated_at: float
    route: str
    escalation_level: int
    escalation_team: str
    exhausted: bool
    acknowledged_by: str | None
    resolved_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_COLUMNS = tuple(incidents.c[name] for name in IncidentRow.__dataclass_fields__)


def _row(row: Any) -> IncidentRow:
    return IncidentRow(**row._mapping)


def _conditions(scope: QueryScope, f: IncidentFilter, *, with_state: bool = True) -> list[Any]:
    where: list[Any] = [scope.where(incidents.c.facility_id, incidents.c.region)]
    if with_state and f.state:
        where.append(incidents.c.state == f.state)
    if f.kind:
        where.append(incidents.c.kind == f.kind)
    if f.drill is not None:
        where.append(incidents.c.drill.is_(f.drill))
    if f.region:
        where.append(incidents.c.region == f.region)
    if f.facility:
        where.append(incidents.c.facility_id == f.facility)
    if f.since is not None:
        where.append(incidents.c.opened_at >= f.since)
    return where


def list_incidents(
    conn: sa.Connection, scope: QueryScope, f: IncidentFilter
) -> tuple[int, bool, list[IncidentRow]]:
    """(count, whether the count stopped at :data:`COUNT_CAP`, the page newest first)."""
    if scope.is_empty():
        return 0, False, []
    where = _conditions(scope, f)
    matching = sa.select(incidents.c.incident_id).where(*where).limit(COUNT_CAP + 1).subquery()
    counted = int(conn.execute(sa.select(sa.func.count()).select_from(matching)).scalar() or 0)
    rows = conn.execute(
        sa.select(*_COLUMNS)
        .where(*where)
        .order_by(incidents.c.opened_at.desc(), incidents.c.incident_id.desc())
        .limit(max(1, min(f.limit, MAX_LIMIT)))
        .offset(max(0, f.offset))
    )
    capped = counted > COUNT_CAP
    return min(counted, COUNT_CAP), capped, [_row(r) for r in rows]


def changed_since(
    conn: sa.Connection, scope: QueryScope, f: IncidentFilter, since: float, limit: int = 200
) -> list[IncidentRow]:
    """Incidents updated at or after ``since`` (the live feed), oldest change first. The
    filter's state is ignored: a row that changes state must still be updated on screen."""
    if scope.is_empty():
        return []
    rows = conn.execute(
        sa.select(*_COLUMNS)
        .where(*_conditions(scope, f, with_state=False), incidents.c.updated_at >= since)
        .order_by(incidents.c.updated_at, incidents.c.incident_id)
        .limit(limit)
    )
    return [_row(r) for r in rows]


def kiosk_incidents(
    conn: sa.Connection, scope: QueryScope, device_id: str, limit: int = 20
) -> list[IncidentRow]:
    """A kiosk's most recent incidents that the scope shows, newest first.

    ``incidents.device_id`` has no index yet: on a large table this scans it (the kiosk page
    only; lists and the live feed never do). An index on it would make this a range read."""
    if scope.is_empty():
        return []
    rows = conn.execute(
        sa.select(*_COLUMNS)
        .where(
            scope.where(incidents.c.facility_id, incidents.c.region),
            incidents.c.device_id == device_id,
        )
        .order_by(incidents.c.opened_at.desc(), incidents.c.incident_id.desc())
        .limit(limit)
    )
    return [_row(r) for r in rows]
