"""enrolment tokens, enrolments, certificates, audit log; facility approval; device lifecycle
and the location each kiosk reports

Existing facilities do not require approval and existing devices are active, so an upgraded
fleet behaves as before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 13:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Time = sa.Float(precision=53)


def upgrade() -> None:
    # Plain ADD COLUMN: batch mode would copy tables that others refer to (see 0002).
    op.add_column(
        "facilities",
        sa.Column("require_approval", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "devices",
        sa.Column("lifecycle", sa.String(length=16), nullable=False, server_default="active"),
    )
    op.add_column("devices", sa.Column("reported_location", sa.String(length=64), nullable=True))

    op.create_table(
        "enrolment_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("expires_at", Time, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("used_at", Time, nullable=True),
        sa.Column("enrolment_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["location_id"], ["locations.location_id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("enrolment_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrolment_tokens_location_id"), ["location_id"], unique=False
        )

    op.create_table(
        "enrolments",
        sa.Column("enrolment_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("csr_pem", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("decided_at", Time, nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["location_id"], ["locations.location_id"]),
        sa.PrimaryKeyConstraint("enrolment_id"),
        sa.UniqueConstraint("device_id"),
    )
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolments_location_id"), ["location_id"])
        batch_op.create_index(batch_op.f("ix_enrolments_state"), ["state"])

    op.create_table(
        "certificates",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("issued_at", Time, nullable=False),
        sa.Column("not_after", Time, nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", Time, nullable=True),
        sa.PrimaryKeyConstraint("serial"),
    )
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificates_device_id"), ["device_id"])

    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("prev_hash"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("certificates")
    op.drop_table("enrolments")
    op.drop_table("enrolment_tokens")
    # Plain DROP COLUMN (SQLite 3.35+), as in 0002: batch mode would copy tables others refer to.
    op.drop_column("devices", "reported_location")
    op.drop_column("devices", "lifecycle")
    op.drop_column("facilities", "require_approval")
