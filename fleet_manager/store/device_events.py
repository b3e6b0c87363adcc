"""A kiosk's timeline (see ``schema.device_events``): what happened to it, in order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fleet_manager.store.schema import device_events


@dataclass(frozen=True)
class DeviceEvent:
    event_id: int
    device_id: str
    at: float
    event: str  # online, offline, alert, content_*, command_sent, command_failed, supervision…
    actor: str  # "system", the kiosk id, or who asked ("user:alice")
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "event": self.event, "actor": self.actor, "detail": self.detail}


def record(
    conn: sa.Connection,
    device_id: str,
    at: float,
    event: str,
    actor: str = "system",
    detail: Mapping[str, Any] | None = None,
) -> None:
    conn.execute(
        device_events.insert().values(
            device_id=device_id,
            at=at,
            event=event[:32],
            actor=actor[:64],
            detail=dict(detail or {}),
        )
    )


def timeline(conn: sa.Connection, device_id: str, limit: int = 200) -> list[DeviceEvent]:
    """The most recent ``limit`` events of one kiosk, newest first."""
    rows = conn.execute(
        sa.select(device_events)
        .where(device_events.c.device_id == device_id)
        .order_by(device_events.c.at.desc(), device_events.c.event_id.desc())
        .limit(limit)
    )
    return [DeviceEvent(**row._mapping) for row in rows]
