"""The schema brought up to date at start-up: Alembic's migrations (`migrations/`) applied
in the opening transaction, and a database made before migrations existed adopted as the
first one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SCHEMA_LOCK = 0x4D6F6E69  # any constant: the advisory lock that serialises creating the schema


class SchemaError(Exception):
    """The database's tables are not ones a migration can bring up to date."""


def migrate(conn: Connection) -> None:
    """Bring the database's schema to the newest migration (Alembic), in `conn`'s
    transaction. A database made before migrations existed is adopted as the first one;
    SchemaError for tables no migration made."""
    from alembic import command
    from alembic.config import Config

    if conn.dialect.name != "sqlite":
        # Processes starting together would race to migrate the same tables; the lock
        # makes them take turns (SQLite's BEGIN IMMEDIATE already does).
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    found = _columns(conn)
    if "alembic_version" not in found and "monitors" in found:
        if found != _first_schema():
            raise SchemaError(
                "it holds tables from a development version of Heroku Monitor that no "
                "migration knows; move the file aside (or drop its tables) and start again"
            )
        command.stamp(config, "0001")
    command.upgrade(config, "head")


def _columns(conn: Connection) -> dict[str, set[str]]:
    """Each table's column names."""
    from sqlalchemy import inspect

    inspector = inspect(conn)
    return {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}


def _first_schema() -> dict[str, set[str]]:
    """The tables and columns the first migration makes (what the version before
    migrations made too), read from a throwaway in-memory database."""
    from alembic import command
    from alembic.config import Config

    scratch = create_engine("sqlite://")
    with scratch.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        schema = _columns(conn)
    scratch.dispose()
    schema.pop("alembic_version", None)
    return schema
