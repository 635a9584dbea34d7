"""An app's page (`GET /apps/{app}`, SPEC §6) in tests: the world's baseline service behind
a Flask test client, its first monitor, and the page's sections by id."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from heroku_monitor.web import create_app
from tests.support.web import Site
from tests.support.world import APP, World, first_monitor

PAGE = f"/apps/{APP}"


@contextmanager
def baseline_site(world: World) -> Iterator[Site]:
    """The world's baseline service (its app watched, its first check done) as a `Site`;
    stopped after."""
    service, _ = world.baseline()
    app = create_app(service)
    try:
        yield Site(service, app, app.test_client())
    finally:
        service.stop()


def mid(site: Site) -> int:
    """The id of the site's first monitor (the baseline's)."""
    return first_monitor(site.service)


def section(page: str, name: str) -> str:
    """The inside of the page's `<section id="name">`."""
    return page.split(f'id="{name}"')[1].split("</section>")[0]
