"""Small Logplex batch ids (SPEC §16: 50 apps posting twice a second keep 360,000 batch ids
an hour, under 100 MB): a row is a 22-character digest and when it was taken, no other
index; the dashboard's drain state moves to the log counters (`drain:lines`, `drain:last`).

The ids taken before are dropped (they are kept an hour; keys of the old shape would never
match a new one): a batch Logplex sends again across the upgrade may count twice, once.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("log_batches")  # and its indexes
    op.create_table(
        "log_batches",
        sa.Column("key", sa.String(length=22), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("log_batches")
    op.create_table(
        "log_batches",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("app_name", sa.String(length=30), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_log_batches_seen_at", "log_batches", ["seen_at"])
    op.create_index("ix_log_batches_app_seen", "log_batches", ["app_name", "seen_at"])
