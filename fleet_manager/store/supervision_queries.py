"""What supervision reads: every kiosk's health and each channel's completed version."""

from __future__ import annotations

import sqlalchemy as sa

from fleet_manager.store.schema import devices, rollouts
from fleet_manager.supervision.findings import ChannelState, KioskHealth


def kiosk_health(conn: sa.Connection) -> list[KioskHealth]:
    rows = conn.execute(
        sa.select(
            devices.c.device_id,
            devices.c.registered,
            devices.c.lifecycle,
            devices.c.online,
            devices.c.status_at,
            devices.c.last_heartbeat_at,
            devices.c.channel,
            devices.c.content_version,
        )
    )
    return [KioskHealth(*row) for row in rows]


def channel_states(conn: sa.Connection) -> dict[str, ChannelState]:
    """Per channel, the version of its most recently completed rollout and when it ended."""
    rows = conn.execute(
        sa.select(rollouts.c.channel, rollouts.c.version, rollouts.c.updated_at)
        .where(rollouts.c.state == "completed")
        .order_by(rollouts.c.updated_at)
    )
    return {channel: ChannelState(version, updated_at) for channel, version, updated_at in rows}
