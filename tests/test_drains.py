"""The HTTPS log drain end to end (SPEC section 12): Logplex batches in, one alert out,
however the batches are split or sent again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from tests.support.drains import (
    SECRET,
    auth,
    demo_drain,
    drained_service,
    post_batch,
    press,
    router_alerts,
)
from tests.support.logplex import H12, R14, body, frame
from tests.support.web import wait_until
from tests.support.world import APP, World


@pytest.fixture
def drained(world: World) -> Iterator[tuple[Service, FlaskClient]]:
    with drained_service(world) as made:
        yield made


def h12s(n: int) -> bytes:
    now = datetime.now(UTC)
    return body(*(frame(H12, now) for _ in range(n)))


def test_ten_h12_lines_give_one_alert_naming_the_code_count_and_path(drained, world: World):
    _, client = drained
    assert post_batch(client, h12s(10), frame_id="f-1").status_code == 200
    wait_until(lambda: len(router_alerts(world)) == 1)
    (alert,) = router_alerts(world)
    assert alert["text"].startswith("🔥 *Router Errors: H12 Request timeout* 🔥\nApp: my-app")
    assert "10 lines" in alert["text"] and "/slow" in alert["text"] and "web.1" in alert["text"]


def test_a_batch_sent_again_counts_once(drained, world: World):
    service, client = drained
    batch = h12s(3)
    for _ in range(3):  # the same frame id: Logplex sending it again
        assert post_batch(client, batch, frame_id="same").status_code == 200
    service.checker.check_logs(service.monitors.all()[0].id)
    assert router_alerts(world) == []  # 3 lines, not 9


def test_two_processes_posting_halves_of_a_storm_give_one_alert_with_the_full_count(
    drained, world: World
):
    _, client = drained
    other = world.service(heroku_drain_secret=SECRET)  # another web dyno on the database
    other.scheduler.start()  # it checks the app's logs after its own flushes
    try:
        post_batch(create_app(other).test_client(), h12s(3), frame_id="half-1")
        post_batch(client, h12s(3), frame_id="half-2")
        wait_until(lambda: len(router_alerts(world)) == 1)
    finally:
        other.stop()
    assert "6 lines" in router_alerts(world)[0]["text"]


def test_an_r14_line_alerts_at_once_naming_the_dyno(drained, world: World):
    _, client = drained
    batch = body(frame(R14, datetime.now(UTC), proc="web.1"))
    post_batch(client, batch, frame_id="r14")
    wait_until(
        lambda: any("Memory Quota Exceeded: web.1" in m["text"] for m in world.slack.messages)
    )


@pytest.mark.parametrize("password", ["", "wrong"])
def test_a_wrong_password_is_401_and_counts_nothing(drained, world: World, password: str):
    service, client = drained
    assert post_batch(client, h12s(10), frame_id="x", password=password).status_code == 401
    assert service.checker.log_counts.since(APP, datetime(2000, 1, 1, tzinfo=UTC)) == []


def test_without_a_drain_secret_the_drain_is_503_saying_why(world: World):
    service = world.service()
    response = post_batch(create_app(service).test_client(), h12s(1), frame_id="x")
    service.stop()
    assert response.status_code == 503 and "HEROKU_DRAIN_SECRET" in response.json["error"]


ODD_LINES = [
    frame(H12, datetime(1, 1, 1, tzinfo=UTC)).replace(b"+00:00", b"+01:00"),  # overflows UTC
    body(*(frame(H12.replace("code=H12", f"code=X{i}")) for i in range(3000))),  # no codes
    body(*(frame(H12, datetime(1990 + i % 30, 1, 1, tzinfo=UTC)) for i in range(300))),
    frame(H12.replace('path="/slow?page=2"', 'path="/a\x00b"'), datetime.now(UTC)),
]


@pytest.mark.parametrize(
    "junk",
    [b"", b"not logplex at all", b"999 <1>1 truncated", "é".encode("latin-1") * 50, *ODD_LINES],
)
def test_junk_bodies_are_answered_200_never_a_500(drained, junk: bytes):
    _, client = drained
    assert post_batch(client, junk, frame_id="junk").status_code == 200


def test_the_dashboard_says_whether_a_drain_is_connected_and_how_much_it_sends(drained):
    _, client = drained
    assert "none yet" in client.get("/apps/my-app").get_data(as_text=True)  # the app's page
    post_batch(client, h12s(4), frame_id="f-1")
    page = client.get("/apps/my-app").get_data(as_text=True)
    assert "connected: last batch" in page and "4 lines in the last minute" in page


def register(world: World, tmp_path, secret: str, url: str):
    from tests.support.processes import clean_env, run_app

    env = clean_env(
        HEROKU_API_KEY=world.sim.token,
        HEROKU_API_URL=world.heroku.url,
        HEROKU_DRAIN_SECRET=secret,
        DATABASE_URL=world.database_url,
    )
    return run_app(env, "register-drain", APP, "--url", url, cwd=tmp_path)


def test_register_drain_twice_or_after_a_new_secret_leaves_one_drain_with_the_password(
    world: World, tmp_path
):
    url = f"https://monitor.example.com/drains/heroku/{APP}"
    for secret in (SECRET, SECRET, "rotated-secret-987"):
        done = register(world, tmp_path, secret, url)
        assert done.returncode == 0, done.stderr
        assert secret not in done.stdout + done.stderr  # the password is never printed
    (drain,) = world.sim.log_drains_json(APP)
    assert (
        drain["url"] == f"https://heroku:rotated-secret-987@monitor.example.com/drains/heroku/{APP}"
    )
    from heroku_monitor.store.database import Database

    kept = Database(world.database_url).value(f"drain_token:{APP}")
    assert kept == drain["token"] and str(kept).startswith("d.")


def test_register_drain_without_a_secret_or_with_credentials_in_the_url_is_one_line(
    world: World, tmp_path
):
    done = register(world, tmp_path, "", f"https://m.example.com/drains/heroku/{APP}")
    assert done.returncode == 2 and "HEROKU_DRAIN_SECRET" in done.stderr
    done = register(world, tmp_path, SECRET, f"https://u:p@m.example.com/drains/heroku/{APP}")
    assert done.returncode == 2 and "without a user or password" in done.stderr
    assert world.sim.log_drains_json(APP) == []


def test_batches_of_another_drain_are_ignored(drained, world: World):
    service, client = drained
    service.db.keep(f"drain_token:{APP}", "d.ours")
    headers = {**auth(), "Logplex-Frame-Id": "f", "Logplex-Drain-Token": "d.someone-else"}
    response = client.post(f"/drains/heroku/{APP}", data=h12s(10), headers=headers)
    assert response.status_code == 200 and response.json["counted"] is False
    service.checker.check_logs(service.monitors.all()[0].id)
    assert router_alerts(world) == []


@pytest.mark.parametrize(
    ("button", "header"), [("h12", "Router Errors: H12"), ("r14", "Memory Quota Exceeded: web.1")]
)
def test_the_demo_buttons_write_log_lines_to_the_drain_and_the_alert_follows(
    world: World, button: str, header: str
):
    with demo_drain(world) as (_, client):
        assert press(client, button).status_code == 303
        wait_until(lambda: any(header in m["text"] for m in world.slack.messages))


def test_a_monitor_can_set_when_its_logs_alert_on_the_dashboard(drained, world: World):
    from tests.support.web import csrf_token

    service, client = drained
    mid = service.monitors.all()[0].id
    token = csrf_token(client)
    url = f"/monitors/{mid}/log-thresholds"
    refused = client.post(url, data={"csrf_token": token, "thresholds": "5/500/100"})
    assert refused.status_code == 400 and "lines/percent/requests" in refused.get_data(as_text=True)
    assert client.post(url, data={"csrf_token": token, "thresholds": "20/5/100"}).status_code == 303
    post_batch(client, h12s(10), frame_id="f-1")  # 10 lines: enough for the defaults, not for 20
    service.checker.check_logs(mid)
    assert router_alerts(world) == []
    post_batch(client, h12s(10), frame_id="f-2")
    wait_until(lambda: len(router_alerts(world)) == 1)
    assert "20 lines" in router_alerts(world)[0]["text"]


@pytest.mark.parametrize(
    ("given", "lines", "rate", "requests"),
    [("5/5/100", 5, 0.05, 100), ("1/50/10", 1, 0.5, 10), (" 20 / 5 / 100 ", 20, 0.05, 100)],
)
def test_log_thresholds_are_lines_percent_requests(given, lines, rate, requests):
    from heroku_monitor.core.logs.rules import parse_thresholds

    thresholds, error = parse_thresholds(given)
    assert error is None and thresholds is not None
    assert (thresholds.code_lines, thresholds.rate_5xx, thresholds.min_requests) == (
        lines,
        rate,
        requests,
    )


def test_log_thresholds_are_kept_as_a_person_writes_them_without_spaces(drained):
    from tests.support.web import csrf_token

    service, client = drained
    mid = service.monitors.all()[0].id
    data = {"csrf_token": csrf_token(client), "thresholds": " 20 / 5 / 100 "}
    assert client.post(f"/monitors/{mid}/log-thresholds", data=data).status_code == 303
    assert service.monitors.get(mid).log_thresholds == "20/5/100"


@pytest.mark.parametrize(
    "given", ["", "5/5", "a/b/c", "0/5/100", "5/101/100", "5/5/100/1", "٥/5/100"]
)
def test_odd_log_thresholds_are_one_clear_sentence(given):
    from heroku_monitor.core.logs.rules import parse_thresholds

    thresholds, error = parse_thresholds(given)
    assert thresholds is None and error and "lines/percent/requests" in error


def test_a_fir_apps_telemetry_drain_brings_the_same_alert(drained, world: World):
    from heroku_sim.logs import router_error
    from loopback import BackgroundServer

    service, _ = drained
    with BackgroundServer(create_app(service)) as live:
        world.sim.add_telemetry_drain(
            APP, f"{live.url}/otlp/v1/logs", {"Authorization": f"Bearer {SECRET}"}
        )
        statuses = world.sim.write_logs(APP, [router_error(APP, "H12") for _ in range(10)])
        assert statuses == [200]
        wait_until(lambda: len(router_alerts(world)) == 1)


def test_a_rule_switched_off_on_the_dashboard_is_off_in_the_check(drained, world: World):
    """Router errors switched off (the longer kept form): a storm of H12s alerts nothing,
    while the rules left on still alert (R14)."""
    service, client = drained
    (monitor,) = service.monitors.all()
    assert service.monitors.set_log_thresholds(monitor.id, "off/5/100/3000/on/on", service.clock())
    post_batch(client, h12s(10), frame_id="off-1")
    post_batch(client, body(frame(R14, datetime.now(UTC), proc="web.1")), frame_id="off-2")
    wait_until(
        lambda: any("Memory Quota Exceeded: web.1" in m["text"] for m in world.slack.messages)
    )
    wait_until(lambda: service.outbox.count("pending") == 0)  # all the check queued is sent
    assert router_alerts(world) == []
    assert all("Router Errors" not in a.text for a in service.outbox.recent())
