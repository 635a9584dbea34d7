"""Tests of what renders (heroku_monitor.render, and the timeline's SVG): no database, server or
thread."""
