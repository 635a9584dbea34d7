"""The dashboard in a real browser: Playwright driving Debian's Chromium, headless.

Screenshots at desktop and phone width land in artifacts/ (git-ignored) for a person to
look at. Without /usr/bin/chromium these tests skip, saying so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


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
    assert "dynos since" in page.inner_text(".incidents")  # the incident it opened
    timeline = page.locator(".timeline svg")
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
    timeline = page.locator(".timeline svg").bounding_box()
    assert timeline is not None and timeline["width"] <= 390  # the 7 days fit the phone
    shoot(page, "dashboard-phone.png")
    context.close()
