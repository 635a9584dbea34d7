"""Many processes, many apps (SPEC section 13): the polling leader's lease, check claims
and webhook windows shared by every process, the Heroku requests spent (the rate budget
is the account's), and team watches with the monitors they made.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "team_watches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.Column("slack_channel", sa.String(length=81), nullable=False),
        sa.Column("check_interval", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team"),
    )
    with op.batch_alter_table("monitors") as batch:
        batch.add_column(sa.Column("team_watch_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_monitors_team_watch_id",
            "team_watches",
            ["team_watch_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "check_claims",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("again", sa.Boolean(), nullable=False),
        sa.Column("window_ends", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trailing", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("monitor_id"),
    )
    op.create_table(
        "heroku_spend",
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("minute", "source"),
    )


def downgrade() -> None:
    op.drop_table("heroku_spend")
    op.drop_table("check_claims")
    op.drop_table("leases")
    with op.batch_alter_table("monitors") as batch:
        batch.drop_constraint("fk_monitors_team_watch_id", type_="foreignkey")
        batch.drop_column("team_watch_id")
    op.drop_table("team_watches")
