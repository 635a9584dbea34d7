"""The Heroku client against the simulator on 127.0.0.1: headers, paging, retries, errors."""

from __future__ import annotations

from typing import Any

import pytest

from heroku_monitor.heroku.client import HerokuClient
from heroku_monitor.heroku.errors import (
    HerokuError,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from heroku_monitor.store import snapshots
from heroku_sim import Simulator, SimulatorServer
from tests.support.builders import KEY, T0


@pytest.fixture
def sim() -> Simulator:
    sim = Simulator(seed=1)
    sim.create_app("my-app")
    return sim


def client_for(server: SimulatorServer, sim: Simulator, **kwargs: object) -> HerokuClient:
    options: dict = {"backoff": 0.01, **kwargs}
    return HerokuClient(server.url, sim.token, **options)


def test_snapshot_reads_app_dynos_releases_addons_and_config(sim, server):
    snapshot = client_for(server, sim).snapshot("my-app", now=T0, digest_key=KEY)
    assert snapshot.app == "my-app"
    assert {d.name for d in snapshot.dynos} == {"web.1", "web.2", "worker.1"}
    assert snapshot.releases and snapshot.addons and snapshot.config


def test_newest_releases_are_read_even_beyond_the_first_default_page(sim, server):
    for _ in range(230):
        sim.deploy("my-app")
    snapshot = client_for(server, sim, release_window=10).snapshot("my-app", now=T0, digest_key=KEY)
    versions = [r.version for r in snapshot.releases]
    assert len(versions) == 10 and versions[0] == max(versions) == 233
    assert snapshot.current_release and snapshot.current_release.version == 233


def test_lists_longer_than_a_page_are_followed_through_206_and_next_range(sim, server):
    sim.scale("my-app", "web", 250)
    snapshot = client_for(server, sim).snapshot("my-app", now=T0, digest_key=KEY)
    assert len([d for d in snapshot.dynos if d.type == "web"]) == 250


def test_unchanged_app_and_config_come_back_as_304(sim, server):
    client = client_for(server, sim)
    first = client.snapshot("my-app", now=T0, digest_key=KEY)
    sim.reset_counters()
    second = client.snapshot("my-app", now=T0, digest_key=KEY)
    assert second == first
    assert sim.stats()["by_status"].get("304") == 2


def test_a_stale_list_etag_never_hides_a_crash(sim, server):
    sim.set_stale_list_etags(True)
    client = client_for(server, sim)
    client.snapshot("my-app", now=T0, digest_key=KEY)
    sim.crash_dyno("my-app", "web.1")
    snapshot = client.snapshot("my-app", now=T0, digest_key=KEY)
    assert {d.name: d.state for d in snapshot.dynos}["web.1"] == "crashed"


def test_a_change_is_seen_even_when_earlier_answers_were_cached(sim, server):
    client = client_for(server, sim)
    client.snapshot("my-app", now=T0, digest_key=KEY)
    sim.crash_dyno("my-app", "web.1")
    snapshot = client.snapshot("my-app", now=T0, digest_key=KEY)
    assert {d.name: d.state for d in snapshot.dynos}["web.1"] == "crashed"


def test_server_errors_are_retried_with_backoff(sim, server):
    sim.inject_fault("my-app", status=503, count=2)
    snapshot = client_for(server, sim).snapshot("my-app", now=T0, digest_key=KEY)
    assert snapshot.app == "my-app"


def test_rate_limited_answer_with_retry_after_is_retried(sim, server):
    sim.inject_fault("my-app", status=429, count=1, retry_after=0.05)
    assert client_for(server, sim).snapshot("my-app", now=T0, digest_key=KEY).app == "my-app"


def test_persistent_server_errors_become_unavailable(sim, server):
    sim.inject_fault("my-app", status=500, count=50)  # every request of the check fails
    with pytest.raises(Unavailable) as raised:
        client_for(server, sim, retries=2).snapshot("my-app", now=T0, digest_key=KEY)
    assert str(raised.value).startswith("500 unavailable")


def test_persistent_rate_limit_becomes_rate_limited(sim, server):
    sim.inject_fault("my-app", status=429, count=50)
    with pytest.raises(RateLimited):
        client_for(server, sim, retries=1).snapshot("my-app", now=T0, digest_key=KEY)


def test_bad_token_is_unauthorized_with_herokus_message(sim, server):
    client = HerokuClient(server.url, "wrong-token", backoff=0.01)
    with pytest.raises(Unauthorized) as raised:
        client.snapshot("my-app", now=T0, digest_key=KEY)
    assert str(raised.value).startswith("401 invalid token:")


def test_unknown_app_is_not_found_naming_the_app(sim, server):
    with pytest.raises(NotFound) as raised:
        client_for(server, sim).snapshot("no-such-app", now=T0, digest_key=KEY)
    assert "404 not found" in str(raised.value) and "'no-such-app'" in str(raised.value)


def test_a_slow_heroku_times_out_as_unavailable(sim, server):
    sim.set_latency(1.0)
    client = client_for(server, sim, timeout=(1.0, 0.2), retries=0)
    with pytest.raises(Unavailable, match="did not answer"):
        client.snapshot("my-app", now=T0, digest_key=KEY)


def test_malformed_json_is_unavailable_not_a_crash(sim, server):
    sim.inject_malformed("my-app", count=1)
    with pytest.raises(Unavailable, match="malformed JSON"):
        client_for(server, sim).snapshot("my-app", now=T0, digest_key=KEY)


def test_releases_missing_fields_are_unavailable_not_a_crash(sim, server, monkeypatch):
    client = client_for(server, sim)
    read = client.get

    def get(path: str, **options: Any) -> tuple[Any, str | None]:
        if path.endswith("/releases"):
            return [{"version": 1}], None  # no id, status or created_at
        return read(path, **options)

    monkeypatch.setattr(client, "get", get)
    with pytest.raises(Unavailable, match="releases"):
        client.snapshot("my-app", now=T0, digest_key=KEY)


def test_unreachable_heroku_is_unavailable():
    client = HerokuClient("http://127.0.0.1:9", "token", retries=0)
    with pytest.raises(Unavailable, match="could not reach"):
        client.snapshot("my-app", now=T0, digest_key=KEY)


def test_rate_limit_remaining_is_kept_from_every_answer(sim, server):
    client = client_for(server, sim)
    client.snapshot("my-app", now=T0, digest_key=KEY)
    assert client.rate_limit_remaining is not None and client.rate_limit_remaining < 4500


def test_config_values_are_not_kept_by_the_client(sim, server):
    sim.set_config("my-app", {"STRIPE_KEY": "sk_live_do_not_leak"})
    client = client_for(server, sim)
    snapshot = client.snapshot("my-app", now=T0, digest_key=KEY)
    client.snapshot("my-app", now=T0, digest_key=KEY)  # served from the ETag cache
    assert "STRIPE_KEY" in snapshot.config
    assert "sk_live_do_not_leak" not in repr(client._cache) + snapshots.to_json(snapshot)


def test_every_request_sends_the_v3_accept_header_and_bearer_token(sim, server):
    client = client_for(server, sim)
    assert client.session.headers["Accept"] == "application/vnd.heroku+json; version=3"
    assert client.session.headers["Authorization"] == f"Bearer {sim.token}"
    assert client.rate_limits() > 0


def test_a_long_list_is_read_in_full_on_every_check(sim, server):
    sim.scale("my-app", "web", 250)
    client = client_for(server, sim)
    client.snapshot("my-app", now=T0, digest_key=KEY)
    sim.scale("my-app", "web", 249)
    again = client.snapshot("my-app", now=T0, digest_key=KEY)
    assert len([d for d in again.dynos if d.type == "web"]) == 249


def test_webhooks_are_listed_and_one_is_updated_in_place(sim, server):
    client = client_for(server, sim)
    made = client.create_webhook(
        "my-app", url="https://a.example.com/webhooks/heroku", secret="one", include=["dyno"]
    )
    (listed,) = client.webhooks("my-app")
    assert listed["id"] == made["id"] and listed["url"] == "https://a.example.com/webhooks/heroku"
    updated = client.update_webhook(
        "my-app",
        made["id"],
        url="https://b.example.com/webhooks/heroku",
        secret="two",
        include=["dyno", "api:release"],
    )
    assert updated["id"] == made["id"] and updated["url"] == "https://b.example.com/webhooks/heroku"
    (stored,) = sim.webhooks("my-app")
    assert (stored["secret"], stored["include"], stored["level"]) == (
        "two",
        ["dyno", "api:release"],
        "sync",
    )


def test_a_second_webhook_at_one_url_is_a_409_error_the_caller_can_tell(sim, server):
    client = client_for(server, sim)
    url = "https://a.example.com/webhooks/heroku"
    client.create_webhook("my-app", url=url, secret="s", include=["dyno"])
    with pytest.raises(HerokuError) as caught:
        client.create_webhook("my-app", url=url, secret="s", include=["dyno"])
    assert (caught.value.status, caught.value.error_id) == (409, "conflict")
