"""Facilities, locations and registered kiosks: where each kiosk is, for routing and display."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from fleet_manager.store.schema import devices, facilities, locations

LOCATION_KINDS = ("waiting_room", "bathroom", "exam_room", "other")


@dataclass(frozen=True)
class DevicePlacement:
    """Where a registered kiosk stands: the facts routing needs."""

    device_id: str
    location_id: str
    location_name: str
    facility_id: str
    region: str


def new_location_token() -> str:
    """An opaque, unguessable token for a location's QR URL (never a word)."""
    return secrets.token_urlsafe(16)


def add_facility(conn: sa.Connection, facility_id: str, name: str, region: str, now: float) -> None:
    conn.execute(
        facilities.insert().values(
            facility_id=facility_id, name=name, region=region, created_at=now
        )
    )


def add_location(
    conn: sa.Connection,
    location_id: str,
    facility_id: str,
    name: str,
    kind: str,
    now: float,
    qr_token: str | None = None,
) -> str:
    if kind not in LOCATION_KINDS:
        raise ValueError(f"location kind {kind!r} must be one of {', '.join(LOCATION_KINDS)}")
    token = qr_token or new_location_token()
    conn.execute(
        locations.insert().values(
            location_id=location_id,
            facility_id=facility_id,
            name=name,
            kind=kind,
            qr_token=token,
            created_at=now,
        )
    )
    return token


def register_device(
    conn: sa.Connection, device_id: str, location_id: str, now: float, channel: str = "stable"
) -> None:
    """Place a kiosk at a location; a kiosk seen before registration keeps its state."""
    updated = conn.execute(
        devices.update()
        .where(devices.c.device_id == device_id)
        .values(location_id=location_id, registered=True, channel=channel)
    ).rowcount
    if not updated:
        conn.execute(
            devices.insert().values(
                device_id=device_id,
                location_id=location_id,
                registered=True,
                channel=channel,
                online=False,
                created_at=now,
            )
        )


def placement(conn: sa.Connection, device_id: str) -> DevicePlacement | None:
    row = conn.execute(
        sa.select(
            devices.c.device_id,
            locations.c.location_id,
            locations.c.name,
            facilities.c.facility_id,
            facilities.c.region,
        )
        .select_from(devices.join(locations).join(facilities))
        .where(devices.c.device_id == device_id, devices.c.registered.is_(True))
    ).first()
    if row is None:
        return None
    return DevicePlacement(row[0], row[1], row[2], row[3], row[4])
