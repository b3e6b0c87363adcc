"""locations: floor and room; location_tokens: every QR token a location has had

An existing database keeps every location's current token: it is copied into location_tokens as
the active one (not retired, no end of validity), so printed stickers go on resolving.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("locations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("floor", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("room", sa.String(length=64), nullable=True))

    location_tokens = op.create_table(
        "location_tokens",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(precision=53), nullable=False),
        sa.Column("retired_at", sa.Float(precision=53), nullable=True),
        sa.Column("valid_until", sa.Float(precision=53), nullable=True),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.location_id"],
        ),
        sa.PrimaryKeyConstraint("token"),
    )
    with op.batch_alter_table("location_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_location_tokens_location_id"), ["location_id"], unique=False
        )

    # The tokens in use now stay valid: each becomes its location's active history entry.
    locations = sa.table(
        "locations",
        sa.column("location_id", sa.String),
        sa.column("qr_token", sa.String),
        sa.column("created_at", sa.Float),
    )
    op.execute(
        location_tokens.insert().from_select(
            ["token", "location_id", "created_at"],
            sa.select(locations.c.qr_token, locations.c.location_id, locations.c.created_at),
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("location_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_location_tokens_location_id"))

    op.drop_table("location_tokens")
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): batch mode would copy and drop
    # "locations", which SQLite refuses with foreign keys on while devices refer to it.
    op.drop_column("locations", "room")
    op.drop_column("locations", "floor")
