"""reports: region report keys, encrypted reports and their entries, incidents.report_entries

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 20:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Time = sa.Float(precision=53)


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(
            sa.Column("report_entries", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "report_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("added_at", Time, nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("retired_at", Time, nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_index("ix_report_keys_region", "report_keys", ["region"])
    op.create_table(
        "reports",
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("case_digest", sa.String(length=64), nullable=False),
        sa.Column("passphrase_hash", sa.String(length=200), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.String(length=64), nullable=True),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("report_id"),
        sa.UniqueConstraint("case_digest"),
        sa.UniqueConstraint("incident_id"),
    )
    op.create_table(
        "report_entries",
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("delivered_at", Time, nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["reports.report_id"]),
        sa.PrimaryKeyConstraint("report_id", "seq"),
    )
    op.create_index("ix_report_entries_delivered_at", "report_entries", ["delivered_at"])


def downgrade() -> None:
    op.drop_index("ix_report_entries_delivered_at", table_name="report_entries")
    op.drop_table("report_entries")
    op.drop_table("reports")
    op.drop_index("ix_report_keys_region", table_name="report_keys")
    op.drop_table("report_keys")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("report_entries")
