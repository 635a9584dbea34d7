"""Running for months (SPEC section 16): the indexes the prunes and the dashboard's reads
need, a monitor's resolve hold and the rounds its team app has been missing, and when Slack
first refused an alert with a passing error.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_alerts_created_at", "alerts", ["created_at"]),
    ("ix_alerts_channel_status", "alerts", ["channel", "status", "id"]),
    ("ix_alert_events_created_at", "alert_events", ["created_at"]),
    ("ix_incidents_resolved_at", "incidents", ["resolved_at"]),
    ("ix_log_counts_minute", "log_counts", ["minute"]),
    ("ix_log_batches_app_seen", "log_batches", ["app_name", "seen_at"]),
]


def upgrade() -> None:
    with op.batch_alter_table("monitors") as batch:
        batch.add_column(sa.Column("resolve_after_minutes", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("missing_rounds", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(
            sa.Column("passing_error_since", sa.DateTime(timezone=True), nullable=True)
        )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("passing_error_since")
    with op.batch_alter_table("monitors") as batch:
        batch.drop_column("missing_rounds")
        batch.drop_column("resolve_after_minutes")
