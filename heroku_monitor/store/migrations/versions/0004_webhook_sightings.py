"""Webhook deliveries seen and the checks webhooks triggered, kept for an hour.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_sightings",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("webhook_sightings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_sightings_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_sightings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_sightings_seen_at"))
    op.drop_table("webhook_sightings")
