"""What Heroku does not tell you in time (SPEC §15): the last read of each app's domains and
SNI endpoints (`certificate_reads`), and Heroku's own incidents as the status API showed them
(`platform_incidents`).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
# The newest migration when this one was written (0016-0020 were being written alongside:
# whichever is newest when they land is what this one revises).
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificate_reads",
        sa.Column("app_name", sa.String(length=30), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("app_name"),
    )
    with op.batch_alter_table("certificate_reads") as batch:
        batch.create_index(batch.f("ix_certificate_reads_read_at"), ["read_at"], unique=False)
    op.create_table(
        "platform_incidents",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("platform_incidents") as batch:
        batch.create_index(
            batch.f("ix_platform_incidents_resolved_at"), ["resolved_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("platform_incidents") as batch:
        batch.drop_index(batch.f("ix_platform_incidents_resolved_at"))
    op.drop_table("platform_incidents")
    with op.batch_alter_table("certificate_reads") as batch:
        batch.drop_index(batch.f("ix_certificate_reads_read_at"))
    op.drop_table("certificate_reads")
