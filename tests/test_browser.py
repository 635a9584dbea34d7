"""The dashboard in a real browser: Playwright driving Debian's Chromium, headless.

Screenshots at desktop and phone width land in artifacts/ (git-ignored) for a person to
look at. Without /usr/bin/chromium these tests skip, saying so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heroku_monitor.web import create_app
from loopback import BackgroundServer
from tests.support.many_apps import app_name, populate
from tests.support.web import LiveSite, wait_until
from tests.support.world import APP, World

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
# Flags for a headless Chromium on a machine with no network beyond loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live(world: World) -> Iterator[LiveSite]:
    service = world.service()
    service.simulator = world.heroku  # demo mode: the buttons act on the simulator
    with LiveSite(service) as site:
        wait_until(lambda: service.checker.last_check.ok is True)
        yield site
    service.simulator = None


def text_height(page: Any, figure: str) -> float:
    """How tall (CSS px) the day names of the timeline in `figure` are drawn."""
    box = page.locator(f"{figure} text.timeline-day").first.bounding_box()
    assert box is not None, "the timeline names no day"
    return float(box["height"])


def shoot_part(page: Any, selector: str, name: str) -> None:
    """The first element `selector` finds on `page` into artifacts/`name`."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(selector).first.screenshot(path=str(ARTIFACTS / name))


def shoot(page: Any, name: str, *, full_page: bool = True) -> None:
    """`page` into artifacts/`name`: all of it, or (not `full_page`) its first screen."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def test_dashboard_refuses_bad_input_at_each_field_then_saves_good_input(browser, live):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live.url)
    assert page.title() == "Heroku Monitor"
    assert page.locator("#configuration .badge").inner_text() == "ACTIVE"
    styles = page.evaluate(
        "[getComputedStyle(document.body).fontFamily,"
        " getComputedStyle(document.body).backgroundColor]"
    )
    assert styles[0].startswith("Georgia") and styles[1] == "rgb(255, 247, 212)"

    page.fill("#app_name-config", "Bad App")
    page.fill("#slack_channel-config", "alerts")
    page.fill("#check_interval-config", "99")
    with page.expect_response(lambda r: r.url.endswith("/update-config")) as answer:
        page.click("text=Save and check now")
    assert answer.value.status == 400
    for field, words in (
        ("app_name", "3-30 characters"),
        ("slack_channel", "is #name"),
        ("check_interval", "from 1 to 60"),
    ):
        error = page.locator(f"#{field}-config-error")
        assert error.is_visible() and words in error.inner_text()
    shoot(page, "dashboard-invalid-desktop.png")
    assert [m.app_name for m in live.service.monitors.all()] == [APP]

    page.fill("#app_name-config", "second-app")
    page.fill("#slack_channel-config", "#ops")
    page.fill("#check_interval-config", "10")
    page.click("text=Save and check now")
    page.wait_for_selector(".flash-ok")
    assert "Saved. Watching second-app every 10 min" in page.inner_text(".flash-ok")
    assert "#ops" in page.inner_text("#configuration")
    shoot(page, "dashboard-saved-desktop.png")
    page.close()


def test_a_demo_button_shows_its_alert_within_seconds(browser, live):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live.url)
    page.click("text=Crash web.1")
    page.wait_for_selector(".flash-ok")
    wait_until(lambda: live.service.outbox.count() > 0)
    page.goto(live.url)
    assert "ALERT: Dyno Crash Detected" in page.inner_text("#alerts")
    assert "Dyno crash" in page.inner_text("#attention")  # the incident it opened, first
    page.click(f"#attention >> text={APP}")
    assert "Dyno crash · web.1 since" in page.inner_text(".incidents")
    timeline = page.locator(".timeline-broad svg")  # a desktop's: the phone's is hidden
    assert timeline.is_visible() and timeline.bounding_box()["height"] > 40
    shoot(page, "dashboard-alert-desktop.png")
    page.close()


def test_dashboard_fits_a_phone_screen(browser, live):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    page.goto(live.url)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone"
    assert page.locator("#configuration .badge").is_visible()
    button = page.locator("#configuration button")
    assert button.bounding_box()["width"] > 300  # full-width, easy to tap
    shoot(page, "dashboard-phone.png")
    page.goto(f"{live.url}/apps/{APP}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the app's page is {overflow}px wider than a phone"
    timeline = page.locator(".timeline-narrow svg").bounding_box()
    assert timeline is not None and timeline["width"] <= 390  # the 7 days fit the phone
    shoot(page, "app-phone.png")
    context.close()


# -- an account with 200 apps ----------------------------------------------------------------

HERD = 200
TROUBLED = app_name(137)  # the one app with an open incident: far down the list by name


@pytest.fixture
def herd_site(sqlite_url: str) -> Iterator[str]:
    """The dashboard of 200 monitored apps (made in the database), one of them with an open
    incident, served on 127.0.0.1 with no scheduler: nothing polls the made-up apps."""
    from heroku_monitor import service as service_module
    from heroku_monitor.settings import Settings

    settings = Settings(
        heroku_api_key="unused",
        monitored_app_name=None,
        database_url=sqlite_url,
        heroku_api_url="http://127.0.0.1:9",  # never called: nothing is checked
    )
    service = service_module.build(settings)
    made = populate(service, HERD, service.clock(), crash_first=137, crash_every=1000)
    assert made.crashed == [TROUBLED]
    try:
        with BackgroundServer(create_app(service), name="herd-site") as server:
            yield server.url
    finally:
        service.stop()


def test_the_overview_of_200_apps_puts_the_one_in_trouble_first_filters_and_opens_its_page(
    browser, herd_site
):
    url = herd_site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    first_row = page.locator("table.apps tbody tr").first
    assert TROUBLED in first_row.inner_text() and "🔥 1" in first_row.inner_text()
    attention = page.inner_text("#attention")
    assert TROUBLED in attention and "Dyno crash" in attention
    assert "nobody has acknowledged it" in attention
    assert page.locator("table.apps tbody tr").count() == 100  # a page of the 200
    assert "Showing 1–100 of 200 apps" in page.inner_text("#apps-count")
    shoot(page, "overview-200-desktop.png", full_page=False)  # the first screen

    page.fill("#filter-q", "app-013")  # without JavaScript: a GET form
    with page.expect_navigation():
        page.click("#apps button[type=submit]")
    assert "q=app-013" in page.url
    shown = page.locator("table.apps tbody tr .app-link").all_inner_texts()
    assert shown[0] == TROUBLED and sorted(shown) == [app_name(i) for i in range(130, 140)]

    page.click(f"table.apps >> text={TROUBLED}")
    page.wait_for_url(f"**/apps/{TROUBLED}")
    assert page.title() == f"{TROUBLED} · Heroku Monitor"
    timeline = page.locator("#week .timeline-broad svg")
    box = timeline.bounding_box()
    assert timeline.is_visible() and box is not None and box["width"] > 900  # full width
    assert not page.locator("#week .timeline-narrow svg").is_visible()
    assert page.locator("#week .timeline-broad .timeline-incident").count() == 1  # its crash
    assert 9 <= text_height(page, "#week .timeline-broad") <= 18  # as the page's small text
    page.locator("#certificates").scroll_into_view_if_needed()
    assert "Not read yet" in page.inner_text("#certificates")
    assert page.locator(".rule-table .rule").count() >= 5  # every rule, each with its switch
    assert "Dyno crash · web.1 since" in page.inner_text("#incidents")
    assert page.locator("#incidents button", has_text="Acknowledge").is_visible()
    shoot(page, "app-page-desktop.png")
    shoot_part(page, "#week", "app-page-week-desktop.png")
    shoot_part(page, ".settings", "app-page-settings-desktop.png")
    page.close()


def test_the_overview_of_200_apps_reads_well_on_a_phone(browser, herd_site):
    url = herd_site
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    page.goto(url)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the overview is {overflow}px wider than a phone"
    first = page.locator("table.apps tbody tr").first
    assert TROUBLED in first.inner_text()
    assert first.bounding_box()["width"] <= 390
    shoot(page, "overview-200-phone.png", full_page=False)
    page.goto(f"{url}/apps/{TROUBLED}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the app's page is {overflow}px wider than a phone"
    assert page.locator("#week .timeline-narrow svg").is_visible()
    assert not page.locator("#week .timeline-broad svg").is_visible()
    assert 9 <= text_height(page, "#week .timeline-narrow") <= 18
    shoot(page, "app-page-phone.png")
    shoot_part(page, "#week", "app-page-week-phone.png")
    shoot_part(page, "form.thresholds", "app-page-thresholds-phone.png")
    context.close()
