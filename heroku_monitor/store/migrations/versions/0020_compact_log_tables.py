"""Smaller log tables (SPEC §16: with 50 apps posting twice a second the database stays
under 100 MB; measured by `bench/soak.py --backend postgres --full-rate-hours 2`):

- `log_batches.key` becomes a BIGINT: 8 bytes of the batch's digest (`log_counts.batch_key`)
  instead of 22 characters of base64; ~114 -> ~75 bytes a row on PostgreSQL with its key's
  index, and 360,000-420,000 rows an hour at that rate.
- `log_counts` and `log_latency` are keyed by the minute first: (minute, app_name, metric)
  and (minute, app_name). Their rows come in minute by minute, so the key's index grows at
  its right end, its pages full, and the prune empties whole pages at its left end; keyed
  by app first, every app's range split its pages in halves (half empty). That one index
  serves the reads (an app's last 15 minutes, scanning those minutes of every app: ~2 ms
  at 500 apps on PostgreSQL, 0.25 ms before; ~3 ms on SQLite, 0.05 before), the upserts
  and the prune, so `ix_log_counts_minute` and `ix_log_latency_minute` go. At the
  soak's day 7 (50 apps), -7.7 MB of indexes for `log_counts`, -2.3 MB for `log_latency`.
- On PostgreSQL the three are vacuumed once 2% of their rows are dead (the default is 20%):
  a prune every ten minutes deletes 0.35% of `log_counts`, 0.7% of `log_latency` and ~14%
  of `log_batches`, so by default their dead rows' room was reused only every few hours
  (every other prune for the batch ids: 80 minutes of them instead of 70), and the tables
  grew by as much.

The batch ids taken before are dropped, not converted (a key of the old shape is a
different digest): they are kept an hour only, so nothing is lost but this: a batch
Logplex sends again across the upgrade may be counted twice, once.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

LOG_TABLES = ("log_counts", "log_latency", "log_batches")


def upgrade() -> None:
    op.drop_table("log_batches")
    op.create_table(
        "log_batches",
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("log_counts") as batch:
        batch.drop_index("ix_log_counts_minute")
    with op.batch_alter_table("log_latency") as batch:
        batch.drop_index("ix_log_latency_minute")
    _primary_key("log_counts", ["minute", "app_name", "metric"])
    _primary_key("log_latency", ["minute", "app_name"])
    if op.get_bind().dialect.name == "postgresql":
        for table in LOG_TABLES:
            op.execute(f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.02)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in LOG_TABLES:
            op.execute(f"ALTER TABLE {table} RESET (autovacuum_vacuum_scale_factor)")
    _primary_key("log_latency", ["app_name", "minute"])
    _primary_key("log_counts", ["app_name", "minute", "metric"])
    with op.batch_alter_table("log_latency") as batch:
        batch.create_index("ix_log_latency_minute", ["minute"], unique=False)
    with op.batch_alter_table("log_counts") as batch:
        batch.create_index("ix_log_counts_minute", ["minute"], unique=False)
    op.drop_table("log_batches")  # the ids expire within the hour anyway
    op.create_table(
        "log_batches",
        sa.Column("key", sa.String(length=22), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        sqlite_with_rowid=False,
    )


def _primary_key(table: str, columns: list[str]) -> None:
    """`table`'s primary key on `columns`, in that order, its rows kept. SQLite cannot
    alter a key: the table is made again (Alembic's batch mode copies its rows)."""
    name = f"{table}_pkey"  # PostgreSQL's name for the key create_table made
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.create_primary_key(name, columns)
    else:
        op.drop_constraint(name, table, type_="primary")
        op.create_primary_key(name, table, columns)
