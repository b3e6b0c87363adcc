"""What the fleet manager knows of each kiosk's health: online/offline, heartbeats, versions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from fleet_manager.store.schema import devices


@dataclass(frozen=True)
class Heartbeat:
    device_id: str
    at: float
    seq: int
    outbox_pending: int
    app: str | None
    content: str | None


def record_status(
    conn: sa.Connection,
    device_id: str,
    online: bool,
    session: str,
    at: float,
    app: str | None,
    content: str | None,
    location: str | None = None,
) -> bool:
    """Apply a birth or Last Will. A stale Will (from an older session than the one now
    online) is ignored, so a quick reconnect is never shown as offline. True if applied."""
    ensure_devices(conn, {device_id: at})
    row = conn.execute(
        sa.select(devices.c.session, devices.c.online).where(devices.c.device_id == device_id)
    ).one()
    if not online and row.online and row.session is not None and row.session != session:
        return False
    values: dict[str, object] = {"online": online, "session": session, "status_at": at}
    if online:
        values.update(app_version=app, content_version=content)
        if location is not None:
            values["reported_location"] = location
    conn.execute(devices.update().where(devices.c.device_id == device_id).values(**values))
    return True


def ensure_devices(conn: sa.Connection, first_seen: Mapping[str, float]) -> None:
    """Track kiosks not (yet) registered too: they show up as unregistered.
    ``first_seen`` maps each device id to when it was seen."""
    wanted = set(first_seen)
    if not wanted:
        return
    known = set(
        conn.execute(
            sa.select(devices.c.device_id).where(devices.c.device_id.in_(wanted))
        ).scalars()
    )
    missing = sorted(wanted - known)
    if missing:
        conn.execute(
            devices.insert(),
            [
                {
                    "device_id": d,
                    "registered": False,
                    "channel": "stable",
                    "online": False,
                    "created_at": first_seen[d],
                }
                for d in missing
            ],
        )


_HEARTBEAT_UPDATE = (
    devices.update()
    .where(devices.c.device_id == sa.bindparam("b_device_id"))
    .values(
        last_heartbeat_at=sa.bindparam("b_at"),
        heartbeat_seq=sa.bindparam("b_seq"),
        outbox_pending=sa.bindparam("b_pending"),
        # A heartbeat without versions leaves those from the birth message alone.
        app_version=sa.func.coalesce(sa.bindparam("b_app", type_=sa.String), devices.c.app_version),
        content_version=sa.func.coalesce(
            sa.bindparam("b_content", type_=sa.String), devices.c.content_version
        ),
    )
)


def record_heartbeats(conn: sa.Connection, beats: Sequence[Heartbeat]) -> None:
    """Apply a batch of heartbeats (the newest per kiosk) as one executemany UPDATE: a flush
    for a few hundred kiosks stays in the low milliseconds, so it never holds up an alert."""
    if not beats:
        return
    ensure_devices(conn, {b.device_id: b.at for b in beats})
    conn.execute(
        _HEARTBEAT_UPDATE,
        [
            {
                "b_device_id": b.device_id,
                "b_at": b.at,
                "b_seq": b.seq,
                "b_pending": b.outbox_pending,
                "b_app": b.app,
                "b_content": b.content,
            }
            for b in beats
        ],
    )


def device_row(conn: sa.Connection, device_id: str) -> sa.Row[tuple[object, ...]] | None:
    return conn.execute(sa.select(devices).where(devices.c.device_id == device_id)).first()
