"""A webhook's trigger kept until a check answers it (SPEC §16: a process killed between a
delivery's 202 and its check loses no alert): `check_claims.asked_at`, when a delivery last
asked for a check that no check begun since has ended.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-09 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("check_claims") as batch:
        batch.add_column(sa.Column("asked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("check_claims") as batch:
        batch.drop_column("asked_at")
