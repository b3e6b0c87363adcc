"""What the console's registry area reads: facilities with their counts, a facility's
locations, kiosks and pending enrolments, and where a location, enrolment or kiosk belongs
(the facility and region an access decision needs).

Lists take a :class:`~fleet_manager.accounts.policy.QueryScope` and filter in SQL, so a facility
admin's query never returns another facility's row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fleet_manager.accounts.policy import QueryScope
from fleet_manager.registry_admin.rules import QrSummary, qr_summary
from fleet_manager.store import enrolment_store, registry
from fleet_manager.store.schema import (
    devices,
    enrolment_tokens,
    enrolments,
    facilities,
    locations,
)


@dataclass(frozen=True)
class FacilityRow:
    facility_id: str
    name: str
    region: str
    require_approval: bool
    created_at: float
    locations: int
    kiosks: int
    kiosks_online: int
    pending_approvals: int


@dataclass(frozen=True)
class LocationRow:
    location_id: str
    name: str
    kind: str
    floor: str | None
    room: str | None
    qr_token: str
    qr: QrSummary
    open_enrolment_tokens: int  # made, not used, not expired
    kiosks: int


@dataclass(frozen=True)
class KioskRow:
    device_id: str
    location_id: str | None
    location_name: str | None
    online: bool
    lifecycle: str
    last_heartbeat_at: float | None
    app_version: str | None
    content_version: str | None


@dataclass(frozen=True)
class PendingRow:
    enrolment_id: str
    device_id: str
    location_id: str
    location_name: str
    facility_id: str
    region: str
    created_at: float


@dataclass(frozen=True)
class Place:
    """Where something belongs, for :func:`~fleet_manager.accounts.policy.decide`."""

    facility_id: str
    region: str


def _facility_query() -> sa.Select[Any]:
    n_locations = (
        sa.select(locations.c.facility_id, sa.func.count().label("n"))
        .group_by(locations.c.facility_id)
        .subquery()
    )
    registered = devices.c.registered.is_(True)
    n_kiosks = (
        sa.select(locations.c.facility_id, sa.func.count().label("n"))
        .select_from(devices.join(locations))
        .where(registered)
        .group_by(locations.c.facility_id)
        .subquery()
    )
    n_online = (
        sa.select(locations.c.facility_id, sa.func.count().label("n"))
        .select_from(devices.join(locations))
        .where(registered, devices.c.online.is_(True), devices.c.lifecycle == "active")
        .group_by(locations.c.facility_id)
        .subquery()
    )
    n_pending = (
        sa.select(locations.c.facility_id, sa.func.count().label("n"))
        .select_from(enrolments.join(locations))
        .where(enrolments.c.state == "pending")
        .group_by(locations.c.facility_id)
        .subquery()
    )
    query = sa.select(
        facilities.c.facility_id,
        facilities.c.name,
        facilities.c.region,
        facilities.c.require_approval,
        facilities.c.created_at,
        sa.func.coalesce(n_locations.c.n, 0),
        sa.func.coalesce(n_kiosks.c.n, 0),
        sa.func.coalesce(n_online.c.n, 0),
        sa.func.coalesce(n_pending.c.n, 0),
    ).select_from(facilities)
    for sub in (n_locations, n_kiosks, n_online, n_pending):
        query = query.outerjoin(sub, sub.c.facility_id == facilities.c.facility_id)
    return query.order_by(facilities.c.facility_id)


def _facility_row(row: sa.Row[Any]) -> FacilityRow:
    fid, name, region, approval, created, n_loc, n_kiosk, n_online, n_pending = tuple(row)
    return FacilityRow(
        str(fid),
        str(name),
        str(region),
        bool(approval),
        float(created),
        int(n_loc),
        int(n_kiosk),
        int(n_online),
        int(n_pending),
    )


def facility_rows(conn: sa.Connection, scope: QueryScope) -> list[FacilityRow]:
    """The facilities ``scope`` shows, by id, with their counts."""
    query = _facility_query().where(scope.where(facilities.c.facility_id, facilities.c.region))
    return [_facility_row(row) for row in conn.execute(query)]


def facility_row(conn: sa.Connection, facility_id: str) -> FacilityRow | None:
    row = conn.execute(_facility_query().where(facilities.c.facility_id == facility_id)).first()
    return None if row is None else _facility_row(row)


def location_rows(conn: sa.Connection, facility_id: str, now: float) -> list[LocationRow]:
    """The facility's locations with their QR state, open enrolment tokens and kiosks."""
    open_tokens: dict[str, int] = dict(
        conn.execute(
            sa.select(enrolment_tokens.c.location_id, sa.func.count())
            .select_from(enrolment_tokens.join(locations))
            .where(
                locations.c.facility_id == facility_id,
                enrolment_tokens.c.used_at.is_(None),
                enrolment_tokens.c.expires_at > now,
            )
            .group_by(enrolment_tokens.c.location_id)
        ).all()
    )
    kiosks: dict[str, int] = dict(
        conn.execute(
            sa.select(devices.c.location_id, sa.func.count())
            .select_from(devices.join(locations))
            .where(locations.c.facility_id == facility_id, devices.c.registered.is_(True))
            .group_by(devices.c.location_id)
        ).all()
    )
    rows = []
    for loc in registry.list_locations(conn, facility_id):
        history = registry.token_history(conn, loc.location_id)
        rows.append(
            LocationRow(
                loc.location_id,
                loc.name,
                loc.kind,
                loc.floor,
                loc.room,
                loc.qr_token,
                qr_summary(loc.qr_token, history, now),
                int(open_tokens.get(loc.location_id, 0)),
                int(kiosks.get(loc.location_id, 0)),
            )
        )
    return rows


def kiosk_rows(conn: sa.Connection, facility_id: str) -> list[KioskRow]:
    """The registered kiosks placed at the facility's locations, by id."""
    rows = conn.execute(
        sa.select(
            devices.c.device_id,
            devices.c.location_id,
            locations.c.name,
            devices.c.online,
            devices.c.lifecycle,
            devices.c.last_heartbeat_at,
            devices.c.app_version,
            devices.c.content_version,
        )
        .select_from(devices.join(locations))
        .where(locations.c.facility_id == facility_id, devices.c.registered.is_(True))
        .order_by(devices.c.device_id)
    )
    return [KioskRow(str(r[0]), r[1], r[2], bool(r[3]), str(r[4]), r[5], r[6], r[7]) for r in rows]


def pending_rows(
    conn: sa.Connection, scope: QueryScope, facility_id: str | None = None
) -> list[PendingRow]:
    """Enrolments waiting for approval that ``scope`` shows, oldest first."""
    query = (
        sa.select(
            enrolments.c.enrolment_id,
            enrolments.c.device_id,
            enrolments.c.location_id,
            locations.c.name,
            facilities.c.facility_id,
            facilities.c.region,
            enrolments.c.created_at,
        )
        .select_from(enrolments.join(locations).join(facilities))
        .where(
            enrolments.c.state == "pending",
            scope.where(facilities.c.facility_id, facilities.c.region),
        )
        .order_by(enrolments.c.created_at, enrolments.c.enrolment_id)
    )
    if facility_id is not None:
        query = query.where(facilities.c.facility_id == facility_id)
    return [PendingRow(*row) for row in conn.execute(query)]


def _region(conn: sa.Connection, facility_id: str) -> str | None:
    value = conn.execute(
        sa.select(facilities.c.region).where(facilities.c.facility_id == facility_id)
    ).scalar()
    return None if value is None else str(value)


def facility_place(conn: sa.Connection, facility_id: str) -> Place | None:
    region = _region(conn, facility_id)
    return None if region is None else Place(facility_id, region)


def location_place(conn: sa.Connection, location_id: str) -> Place | None:
    location = registry.get_location(conn, location_id)
    return None if location is None else facility_place(conn, location.facility_id)


def enrolment_place(
    conn: sa.Connection, ref: str
) -> tuple[enrolment_store.EnrolmentRecord, Place] | None:
    """An enrolment (by enrolment id or device id) and where it belongs."""
    record = enrolment_store.find_enrolment(conn, ref)
    if record is None:
        return None
    place = facility_place(conn, record.facility_id)
    return None if place is None else (record, place)


def device_place(conn: sa.Connection, device_id: str) -> Place | None:
    """The facility of a kiosk's location; None for an unknown or unplaced kiosk (only a
    fleet-wide role may act on a kiosk that belongs to no facility)."""
    found = registry.placement(conn, device_id)
    return None if found is None else Place(found.facility_id, found.region)


def device_exists(conn: sa.Connection, device_id: str) -> bool:
    return enrolment_store.lifecycle(conn, device_id) is not None
