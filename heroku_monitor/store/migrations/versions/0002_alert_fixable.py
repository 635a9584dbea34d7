"""Whether a failed alert can go through after a person's fix, decided by slack.py.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 03:00:00

Before, the outbox re-derived this from the error text; failed alerts that Slack refused
for their content are marked from their stored error once, here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

REFUSED = ("invalid_blocks", "invalid_arguments", "msg_too_long", "no_text")


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(
            sa.Column("fixable", sa.Boolean(), server_default=sa.text("true"), nullable=False)
        )
    alerts = sa.table("alerts", sa.column("fixable", sa.Boolean), sa.column("last_error", sa.Text))
    op.execute(
        alerts.update()
        .where(sa.or_(*(alerts.c.last_error.startswith(error) for error in REFUSED)))
        .values(fixable=False)
    )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("fixable")
