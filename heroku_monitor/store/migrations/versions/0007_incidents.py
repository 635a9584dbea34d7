"""Incidents (one conversation per problem) and snoozes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=400), nullable=False),
        sa.Column("app_name", sa.String(length=30), nullable=False),
        sa.Column("family", sa.String(length=40), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("monitor_id", "id"),
    )
    with op.batch_alter_table("incidents") as batch:
        batch.create_index(batch.f("ix_incidents_opened_at"), ["opened_at"], unique=False)
    op.create_table(
        "snoozes",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("app_name", sa.String(length=30), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("muted", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("monitor_id"),
    )


def downgrade() -> None:
    op.drop_table("snoozes")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index(batch.f("ix_incidents_opened_at"))
    op.drop_table("incidents")
