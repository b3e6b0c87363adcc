"""What the fleet manager knows of each kiosk's health: online/offline, heartbeats, versions."""

from __future__ import annotations

from collections.abc import Iterable
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


def _ensure_device(conn: sa.Connection, device_id: str, now: float) -> None:
    """Kiosks not yet registered are still tracked (they show up as unregistered)."""
    exists = conn.execute(
        sa.select(devices.c.device_id).where(devices.c.device_id == device_id)
    ).first()
    if exists is None:
        conn.execute(
            devices.insert().values(
                device_id=device_id,
                registered=False,
                channel="stable",
                online=False,
                created_at=now,
            )
        )


def record_status(
    conn: sa.Connection,
    device_id: str,
    online: bool,
    session: str,
    at: float,
    app: str | None,
    content: str | None,
) -> bool:
    """Apply a birth or Last Will. A stale Will (from an older session than the one now
    online) is ignored, so a quick reconnect is never shown as offline. True if applied."""
    _ensure_device(conn, device_id, at)
    row = conn.execute(
        sa.select(devices.c.session, devices.c.online).where(devices.c.device_id == device_id)
    ).one()
    if not online and row.online and row.session is not None and row.session != session:
        return False
    values: dict[str, object] = {"online": online, "session": session, "status_at": at}
    if online:
        values.update(app_version=app, content_version=content)
    conn.execute(devices.update().where(devices.c.device_id == device_id).values(**values))
    return True


def record_heartbeats(conn: sa.Connection, beats: Iterable[Heartbeat]) -> None:
    """Apply a batch of heartbeats (the newest per kiosk) in one statement per kiosk."""
    for beat in beats:
        _ensure_device(conn, beat.device_id, beat.at)
        conn.execute(
            devices.update()
            .where(devices.c.device_id == beat.device_id)
            .values(
                last_heartbeat_at=beat.at,
                heartbeat_seq=beat.seq,
                outbox_pending=beat.outbox_pending,
                # A heartbeat without versions leaves those from the birth message alone.
                **({"app_version": beat.app} if beat.app is not None else {}),
                **({"content_version": beat.content} if beat.content is not None else {}),
            )
        )


def device_row(conn: sa.Connection, device_id: str) -> sa.Row[tuple[object, ...]] | None:
    return conn.execute(sa.select(devices).where(devices.c.device_id == device_id)).first()
