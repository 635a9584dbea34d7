"""The Fir telemetry drain end to end (SPEC section 12): OTLP/HTTP log exports in, protobuf
or JSON, one alert out, however often the same export is sent."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from heroku_monitor.service import Service
from heroku_monitor.web import auth, create_app, otlp
from tests.support.drains import SECRET, router_alerts
from tests.support.logplex import H12, OK, R14
from tests.support.web import wait_until
from tests.support.world import APP, World

ENDPOINT = "otlp.logs_export"
APP_ID = "2daa2797-e42b-4624-9322-ec3f968df4da"
SINCE = datetime(2000, 1, 1, tzinfo=UTC)


def app_for(service: Service, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The web app with the OTLP blueprint, until the app factory registers it."""
    app = create_app(service)
    if "otlp" not in app.blueprints:
        app.register_blueprint(otlp.bp)
    app.config["WTF_CSRF_ENABLED"] = False
    if ENDPOINT not in auth.OPEN_ENDPOINTS:
        monkeypatch.setattr(auth, "OPEN_ENDPOINTS", auth.OPEN_ENDPOINTS | {ENDPOINT})
    return app


@pytest.fixture
def drained(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Service, FlaskClient]]:
    service, _ = world.baseline(heroku_drain_secret=SECRET)
    service.scheduler.start()
    yield service, app_for(service, monkeypatch).test_client()
    service.stop()


def attr(key: str, value: str) -> dict:
    return {"key": key, "value": {"stringValue": value}}


def export(
    *messages: str, app: str = APP, at: datetime | None = None, dyno: str | None = "web.1"
) -> dict:
    """An ExportLogsServiceRequest in OTLP's JSON encoding, as Heroku would send it."""
    when = at or datetime.now(UTC)
    nanos = str(int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000)
    records = [
        {
            "timeUnixNano": nanos,
            "observedTimeUnixNano": nanos,
            "severityText": "INFO",
            "body": {"stringValue": message},
            "attributes": [attr("dyno", dyno)] if dyno else [],
        }
        for message in messages
    ]
    resource = [attr("service.name", app), attr("heroku.app.id", APP_ID)]
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": resource},
                "scopeLogs": [{"scope": {"name": "heroku"}, "logRecords": records}],
            }
        ]
    }


def as_protobuf(data: dict) -> bytes:
    return json_format.ParseDict(data, ExportLogsServiceRequest()).SerializeToString()


def post(
    client: FlaskClient,
    data: bytes | str,
    *,
    kind: str = "application/x-protobuf",
    token: str = SECRET,
    **headers: str,
):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": kind, **headers}
    return client.post("/otlp/v1/logs", data=data, headers=headers)


def post_json(client: FlaskClient, data: dict, **kw):
    return post(client, json.dumps(data), kind="application/json", **kw)


def counted(service: Service) -> list:
    service.checker.log_counts.flush()  # what the flusher writes within a second
    return service.checker.log_counts.since(APP, SINCE)


# ----------------------------------------------------------------------------- end to end


def test_ten_h12_records_in_protobuf_give_one_alert(drained, world: World):
    _, client = drained
    response = post(client, as_protobuf(export(*[H12] * 10)))
    assert response.status_code == 200
    assert response.content_type == "application/x-protobuf"
    assert ExportLogsServiceResponse.FromString(response.data) == ExportLogsServiceResponse()
    wait_until(lambda: len(router_alerts(world)) == 1)
    (alert,) = router_alerts(world)
    assert alert["text"].startswith("🔥 *Router Errors: H12 Request timeout* 🔥\nApp: my-app")
    assert "10 lines" in alert["text"] and "/slow" in alert["text"] and "web.1" in alert["text"]


def test_ten_h12_records_in_json_give_one_alert(drained, world: World):
    _, client = drained
    response = post_json(client, export(*[H12] * 10))
    assert response.status_code == 200 and response.json == {}
    wait_until(lambda: len(router_alerts(world)) == 1)
    assert "10 lines" in router_alerts(world)[0]["text"]


def test_a_gzipped_export_is_read(drained, world: World):
    _, client = drained
    body = gzip.compress(as_protobuf(export(*[H12] * 10)))
    assert post(client, body, **{"Content-Encoding": "gzip"}).status_code == 200
    wait_until(lambda: len(router_alerts(world)) == 1)


def test_an_r14_record_alerts_naming_the_dyno_from_its_attribute(drained, world: World):
    _, client = drained
    post(client, as_protobuf(export(R14, dyno="worker.2")))
    wait_until(
        lambda: any("Memory Quota Exceeded: worker.2" in m["text"] for m in world.slack.messages)
    )


def test_the_same_export_sent_again_counts_once(drained, world: World):
    service, client = drained
    body = as_protobuf(export(*[H12] * 3))
    for _ in range(3):
        assert post(client, body).status_code == 200
    service.checker.check_logs(service.monitors.all()[0].id)
    assert router_alerts(world) == []  # 3 lines, not 9
    assert sum(n for _, metric, n in counted(service) if metric == "code:H12") == 3


# -------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("token", ["", "wrong"])
def test_a_wrong_token_is_401_and_counts_nothing(drained, token: str):
    service, client = drained
    response = post(client, as_protobuf(export(*[H12] * 10)), token=token)
    assert response.status_code == 401 and "Bearer" in response.headers["WWW-Authenticate"]
    assert counted(service) == []


def test_basic_auth_with_the_secret_is_401(drained):
    _, client = drained
    response = client.post(
        "/otlp/v1/logs",
        data=as_protobuf(export(H12)),
        headers={"Content-Type": "application/x-protobuf"},
        auth=("token", SECRET),
    )
    assert response.status_code == 401


def test_without_a_drain_secret_it_is_503_saying_why(world: World, monkeypatch):
    service = world.service()
    try:
        client = app_for(service, monkeypatch).test_client()
        response = post(client, as_protobuf(export(H12)))
    finally:
        service.stop()
    assert response.status_code == 503 and "HEROKU_DRAIN_SECRET" in response.json["error"]


@pytest.mark.parametrize(
    ("body", "kind", "encoding"),
    [
        (b"\xff\xff\xff\xff garbage", "application/x-protobuf", ""),
        (b"\x0a\xff\xff\xff\xff\x0f", "application/x-protobuf", ""),  # length past the end
        (b"{not json", "application/json", ""),
        (b'{"resourceLogs": 7}', "application/json", ""),
        ("é".encode("latin-1") * 20, "application/json", ""),
        (b"not gzip", "application/x-protobuf", "gzip"),
    ],
)
def test_junk_is_400_never_a_500(drained, body: bytes, kind: str, encoding: str):
    service, client = drained
    headers = {"Content-Encoding": encoding} if encoding else {}
    assert post(client, body, kind=kind, **headers).status_code == 400
    assert counted(service) == []


def test_another_content_type_is_415(drained):
    _, client = drained
    assert post(client, b"at=error code=H12", kind="text/plain").status_code == 415


def test_an_empty_export_is_200(drained):
    _, client = drained
    assert post(client, b"").status_code == 200
    assert post_json(client, {}).json == {}


# ------------------------------------------------------------------- records to log lines


def test_a_resource_without_a_valid_app_name_is_reported_as_rejected(drained):
    service, client = drained
    response = post(client, as_protobuf(export(H12, H12, app="Not An App")))
    answer = ExportLogsServiceResponse.FromString(response.data)
    assert response.status_code == 200 and answer.partial_success.rejected_log_records == 2
    assert counted(service) == []


# A recent minute: the drains count lines stamped from an hour ago to a few minutes ahead.
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)


def test_router_lines_count_requests_and_app_output_is_ignored(drained):
    service, client = drained
    batch = export(OK, OK, H12, "Started GET / for 1.2.3.4", at=T0, dyno=None)
    post_json(client, batch)
    rows = {metric: n for _, metric, n in counted(service)}
    assert rows["requests"] == 3 and rows["code:H12"] == 1 and rows["dyno:H12:web.1"] == 1


def test_a_heroku_prefix_on_the_message_names_the_dyno(drained):
    service, client = drained
    post_json(client, export(f"heroku[web.3]: {R14}", at=T0, dyno=None))
    assert ("dyno:R14:web.3", 1) in [(metric, n) for _, metric, n in counted(service)]


def test_the_record_time_decides_the_minute(drained):
    service, client = drained
    post_json(client, export(H12, at=T0.replace(second=59, microsecond=999_999)))
    assert {minute for minute, _, _ in counted(service)} == {T0}


def test_to_line_matches_what_logplex_gives():
    request = json_format.ParseDict(export(H12, at=T0), ExportLogsServiceRequest())
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    line = otlp.to_line(record, {}, T0)
    assert line is not None and line.is_router and line.router() is not None
    assert line.timestamp == T0.isoformat(timespec="microseconds")
