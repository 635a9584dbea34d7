"""Memory before R14 and the database (SPEC §15): per app, kind, source and minute, the
highest value a drain's metrics lines showed (a dyno's memory and quota, a database's
connections and sizes), one row each, raised to max() by every process.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_samples",
        sa.Column("app_name", sa.String(length=30), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("app_name", "kind", "source", "minute"),
    )
    with op.batch_alter_table("log_samples") as batch:
        batch.create_index("ix_log_samples_minute", ["minute"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("log_samples") as batch:
        batch.drop_index("ix_log_samples_minute")
    op.drop_table("log_samples")
