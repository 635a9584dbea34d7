"""Tests of the pure core (heroku_monitor.core): no database, server or thread; `pytest tests/core`
runs them alone, in seconds."""
