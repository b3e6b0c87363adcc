"""console: requests to the fleet manager, kiosk timelines, metrics, engagement, routing versions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 16:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Time = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "console_requests",
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("done_at", Time, nullable=True),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index("ix_console_requests_state", "console_requests", ["state"])
    op.create_table(
        "device_events",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_device_events_device_at", "device_events", ["device_id", "at"])
    op.create_table(
        "metric_snapshots",
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("counters", sa.JSON(), nullable=False),
        sa.Column("histograms", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("instance"),
    )
    op.create_table(
        "engagement_daily",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "location_id", "kind", "language"),
    )
    op.create_table(
        "routing_policies",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("policy_yaml", sa.Text(), nullable=False),
        sa.Column("saved_by", sa.String(length=64), nullable=False),
        sa.Column("saved_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_index("ix_incidents_opened_at", "incidents", ["opened_at"])
    op.create_index("ix_incidents_updated_at", "incidents", ["updated_at"])
    op.create_index("ix_devices_status_at", "devices", ["status_at"])


def downgrade() -> None:
    op.drop_index("ix_devices_status_at", table_name="devices")
    op.drop_index("ix_incidents_updated_at", table_name="incidents")
    op.drop_index("ix_incidents_opened_at", table_name="incidents")
    op.drop_table("routing_policies")
    op.drop_table("engagement_daily")
    op.drop_table("metric_snapshots")
    op.drop_index("ix_device_events_device_at", table_name="device_events")
    op.drop_table("device_events")
    op.drop_index("ix_console_requests_state", table_name="console_requests")
    op.drop_table("console_requests")
