"""Alembic migrations of the monitor's own database (its settings, state and alert log)."""
