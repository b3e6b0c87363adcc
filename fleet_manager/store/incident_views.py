"""Incidents as the console and the API list them: newest first, scoped, and fast at 100,000.

The count comes first and is capped (:data:`COUNT_CAP`): "more than 1,000" is all a person
paging through incidents needs, and counting exactly would read every matching row. It also
chooses the page's plan: when more rows match than the cap, the page walks
``ix_incidents_opened_at`` backwards and stops after it (matching rows are dense); when fewer
match, the page reads them through their filter's index (region, facility, state) and sorts
those few. Planners without statistics (SQLite) otherwise pick the filter's index and sort
every matching row: 10,000 of them for a responder's region in a 100,000-incident table. The
filter columns are wrapped (``coalesce``) to keep their indexes out of the time walk. The
live feed reads ``ix_incidents_updated_at`` from its cursor on, the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from fleet_manager.accounts.policy import QueryScope
from fleet_manager.store.schema import alerts, incidents

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
COUNT_CAP = 1000
MAX_OFFSET = 100_000  # paging that deep walks that many rows; a time filter does better


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


def _by_time(column: Any) -> Any:
    """``column`` as an expression no index serves (same values; ids are never empty)."""
    return sa.func.coalesce(column, "")


def _conditions(
    scope: QueryScope, f: IncidentFilter, *, with_state: bool = True, by_time: bool = False
) -> list[Any]:
    def col(column: Any) -> Any:
        return _by_time(column) if by_time else column

    where: list[Any] = [scope.where(col(incidents.c.facility_id), col(incidents.c.region))]
    if with_state and f.state:
        where.append(col(incidents.c.state) == f.state)
    if f.kind:
        where.append(incidents.c.kind == f.kind)
    if f.drill is not None:
        where.append(incidents.c.drill.is_(f.drill))
    if f.region:
        where.append(col(incidents.c.region) == f.region)
    if f.facility:
        where.append(col(incidents.c.facility_id) == f.facility)
    if f.since is not None:
        where.append(incidents.c.opened_at >= f.since)
    return where


def list_incidents(
    conn: sa.Connection, scope: QueryScope, f: IncidentFilter
) -> tuple[int, bool, list[IncidentRow]]:
    """(count, whether more match than the count says, the page newest first)."""
    if scope.is_empty():
        return 0, False, []
    matching = (
        sa.select(sa.literal_column("1"))
        .select_from(incidents)
        .where(*_conditions(scope, f))
        .limit(COUNT_CAP + 1)
        .subquery()
    )
    counted = int(conn.execute(sa.select(sa.func.count()).select_from(matching)).scalar() or 0)
    capped = counted > COUNT_CAP
    rows = conn.execute(
        sa.select(*_COLUMNS)
        .where(*_conditions(scope, f, by_time=capped))
        .order_by(incidents.c.opened_at.desc(), incidents.c.incident_id.desc())
        .limit(max(1, min(f.limit, MAX_LIMIT)))
        .offset(max(0, f.offset))
    )
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
        .where(
            *_conditions(scope, f, with_state=False, by_time=True),
            incidents.c.updated_at >= since,
        )
        .order_by(incidents.c.updated_at, incidents.c.incident_id)
        .limit(limit)
    )
    return [_row(r) for r in rows]


def kiosk_incidents(
    conn: sa.Connection, scope: QueryScope, device_id: str, limit: int = 20
) -> list[IncidentRow]:
    """A kiosk's most recent incidents that the scope shows, newest first. Every incident
    (help, drill, tamper, supervision) has its alert row, and ``alerts`` is indexed by kiosk
    (``incidents.device_id`` is not)."""
    if scope.is_empty():
        return []
    of_kiosk = sa.select(alerts.c.incident_id).where(alerts.c.device_id == device_id)
    rows = conn.execute(
        sa.select(*_COLUMNS)
        .where(
            incidents.c.incident_id.in_(of_kiosk),
            scope.where(incidents.c.facility_id, incidents.c.region),
        )
        .order_by(incidents.c.opened_at.desc(), incidents.c.incident_id.desc())
        .limit(limit)
    )
    return [_row(r) for r in rows]
