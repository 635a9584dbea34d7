"""The overview and /healthz read what they show in a fixed number of SQL statements,
whatever the number of apps (SPEC §6): counted on the engine (`before_cursor_execute`) at
5 apps and again at 200, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event

from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from tests.support.many_apps import app_name, offline_service, populate


@pytest.fixture
def service(database_url: str) -> Iterator[Service]:
    with offline_service(database_url) as built:
        yield built


@contextmanager
def counting(service: Service) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(service.db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(service.db.engine, "before_cursor_execute", note)


def statements(service: Service, client: FlaskClient, path: str) -> list[str]:
    client.get(path)  # once before: what a first request does once (a secret, a session)
    with counting(service) as seen:
        response = client.get(path)
    assert response.status_code in (200, 503), response.status_code
    return seen


PATHS = ("/", "/?q=app-00&team=acme", "/?page=2", "/healthz")


def test_the_overview_and_healthz_take_as_many_statements_at_200_apps_as_at_5(service: Service):
    client = create_app(service).test_client()
    now = service.clock()
    few = populate(service, 5, now, crash_first=1, deploy_every=25)
    assert few.crashed and few.deployed  # incidents and alerts to show at 5 apps too
    at_5 = {path: statements(service, client, path) for path in PATHS}
    many = populate(service, 195, now, crash_first=1, deploy_every=25, start=5)
    assert len(many.crashed) > 1
    at_200 = {path: statements(service, client, path) for path in PATHS}
    for path in PATHS:
        assert len(at_200[path]) == len(at_5[path]), (path, at_5[path], at_200[path])
    page = client.get("/").get_data(as_text=True)
    assert page.count('class="app-link"') == 100  # a page of the 200; the rest on page 2
    assert page.index(app_name(1)) < page.index(app_name(0))  # the crashed app first
    assert "<svg" not in page  # no app's timeline on the overview
