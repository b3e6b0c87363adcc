"""training: staff profiles, invites, progress, quiz attempts, records, reminders

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 20:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Time = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "staff_profiles",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("profession", sa.String(length=64), nullable=True),
        sa.Column("licence_state", sa.String(length=2), nullable=True),
        sa.Column("licence_renewal", sa.String(length=10), nullable=True),
        sa.Column("joined_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.facility_id"]),
        sa.ForeignKeyConstraint(["username"], ["users.username"]),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_index("ix_staff_profiles_facility_id", "staff_profiles", ["facility_id"])
    op.create_table(
        "staff_invites",
        sa.Column("invite_id", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("expires_at", Time, nullable=False),
        sa.Column("accepted_at", Time, nullable=True),
        sa.Column("accepted_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["facility_id"], ["facilities.facility_id"]),
        sa.PrimaryKeyConstraint("invite_id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "training_progress",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("module_id", sa.String(length=64), nullable=False),
        sa.Column("section_id", sa.String(length=64), nullable=False),
        sa.Column("done_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("username", "module_id", "section_id"),
    )
    op.create_table(
        "quiz_attempts",
        sa.Column("attempt_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("module_id", sa.String(length=64), nullable=False),
        sa.Column("module_version", sa.String(length=32), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.PrimaryKeyConstraint("attempt_id"),
    )
    op.create_index("ix_quiz_attempts_username", "quiz_attempts", ["username"])
    op.create_table(
        "training_records",
        sa.Column("record_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("module_id", sa.String(length=64), nullable=True),
        sa.Column("module_version", sa.String(length=32), nullable=True),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("completed_on", sa.String(length=10), nullable=False),
        sa.Column("recorded_at", Time, nullable=False),
        sa.Column("certificate_id", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("record_id"),
        sa.UniqueConstraint("certificate_id"),
    )
    op.create_index("ix_training_records_username", "training_records", ["username"])
    op.create_table(
        "training_reminders",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("due_date", sa.String(length=10), nullable=False),
        sa.Column("sent_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("username", "rule_id", "due_date"),
    )


def downgrade() -> None:
    op.drop_table("training_reminders")
    op.drop_index("ix_training_records_username", table_name="training_records")
    op.drop_table("training_records")
    op.drop_index("ix_quiz_attempts_username", table_name="quiz_attempts")
    op.drop_table("quiz_attempts")
    op.drop_table("training_progress")
    op.drop_table("staff_invites")
    op.drop_index("ix_staff_profiles_facility_id", table_name="staff_profiles")
    op.drop_table("staff_profiles")
