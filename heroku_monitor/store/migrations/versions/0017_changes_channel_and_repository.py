"""Each monitor's changes channel (SPEC §14: deploys, rollbacks, config vars, add-ons and
maintenance go there; None: the alert channel) and its GitHub repository, `owner/name`
(commit and compare links; None: no links).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("monitors") as batch:
        batch.add_column(sa.Column("changes_channel", sa.String(length=81), nullable=True))
        batch.add_column(sa.Column("repository", sa.String(length=141), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("monitors") as batch:
        batch.drop_column("repository")
        batch.drop_column("changes_channel")
