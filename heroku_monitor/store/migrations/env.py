"""Alembic's environment: runs on the connection the Database hands over (store/migrate.py),
or, for `alembic revision --autogenerate` at a developer's desk, on alembic.ini's URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from heroku_monitor.store.models import Base

config = context.config
target_metadata = Base.metadata


def run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


given = config.attributes.get("connection")
if given is not None:
    run(given)
else:
    with create_engine(config.get_main_option("sqlalchemy.url") or "").connect() as conn:
        run(conn)
