"""`POST /otlp/v1/logs`: a Fir app's telemetry drain (SPEC section 12).

Heroku's Fir generation sends logs as OpenTelemetry (OTLP/HTTP) to the drain given to
`heroku telemetry:add … --headers '{"Authorization":"Bearer <HEROKU_DRAIN_SECRET>"}'`.
The body is an `ExportLogsServiceRequest` (opentelemetry-proto), binary protobuf
(`application/x-protobuf`) or its JSON mapping (`application/json`, camelCase keys,
`timeUnixNano` as a string), possibly gzip-compressed (`Content-Encoding: gzip`):

    resourceLogs[] → resource.attributes[] (`service.name`: the app, `heroku.app.id`)
                   → scopeLogs[] → logRecords[] (timeUnixNano, body.stringValue, attributes[])

The app comes from the resource's `service.name` (OpenTelemetry's Heroku conventions map
HEROKU_APP_NAME to it and HEROKU_APP_ID to `heroku.app.id`). Each record becomes a
`LogLine` as a Logplex drain would give it (`core.logs.parse.otlp_line`: router lines as
`heroku[router]`, `Error R14 (…)` lines as `heroku[<dyno>]`, anything else as the app's own
output, not counted; the dyno from a record or resource attribute or a `heroku[web.1]: `
prefix on the message). Counting (in memory, written by the process's flusher within a
second), the once-only batch key and the log check are the Logplex drain's
(`runtime.drains`).

Answers follow OTLP/HTTP: 200 with an `ExportLogsServiceResponse` in the request's encoding
(records of resources without a valid app name reported as `partial_success`), 400 for a
body that does not decode, 415 for another content type. Never a 500 on junk.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import zlib
from collections.abc import Iterable
from datetime import datetime

from flask import Blueprint, Response, jsonify, request
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from heroku_monitor.core import validation
from heroku_monitor.core.logs.parse import LogLine, otlp_line
from heroku_monitor.runtime import drains
from heroku_monitor.store.log_counts import PendingFull
from heroku_monitor.web.context import current_service

log = logging.getLogger(__name__)

bp = Blueprint("otlp", __name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
REALM = {"WWW-Authenticate": 'Bearer realm="Heroku Monitor telemetry drain"'}
MAX_BODY = 16 * 1024 * 1024  # bytes of a (decompressed) request
APP_KEY = "service.name"


class BadRequest(Exception):
    """A body that does not decode as the content type says."""


@bp.post("/otlp/v1/logs")
def logs_export() -> tuple[Response, int] | Response:
    service = current_service()
    secret = service.settings.heroku_drain_secret
    if not secret:
        message = "Telemetry drains are off: set HEROKU_DRAIN_SECRET to turn them on."
        return jsonify(error=message), 503
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    given = token.strip() if scheme.lower() == "bearer" else ""
    if not given or not hmac.compare_digest(given.encode(), secret.encode()):
        message = "Send the drain secret as `Authorization: Bearer <HEROKU_DRAIN_SECRET>`."
        response = jsonify(error=message)
        response.headers.update(REALM)
        return response, 401
    kind = request.mimetype
    if kind not in (PROTOBUF, JSON):
        message = f"Send OTLP logs as {PROTOBUF} or {JSON}."
        return jsonify(error=message), 415
    raw = request.get_data(cache=False)
    try:
        body = _decompressed(raw, request.headers.get("Content-Encoding", ""))
        export = _decoded(body, kind)
    except BadRequest as error:
        return jsonify(error=str(error)), 400

    now = service.clock()
    batch_key = hashlib.sha256(body).hexdigest()
    lines_of: dict[str, list[LogLine]] = {}
    rejected = 0
    for resource_logs in export.resource_logs:
        resource = _attributes(resource_logs.resource.attributes)
        app = resource.get(APP_KEY, "")
        records = [r for scope in resource_logs.scope_logs for r in scope.log_records]
        if validation.app_name_error(app):
            rejected += len(records)
            continue
        lines = lines_of.setdefault(app, [])
        lines.extend(line for r in records if (line := to_line(r, resource, now)) is not None)

    try:
        for app, lines in lines_of.items():
            drains.take(
                service.checker.log_counts,
                service.monitors,
                service.scheduler.check_logs_soon,
                app,
                batch_key,
                lines,
                service.clock(),
            )
    except PendingFull:  # OTLP/HTTP: 503 is retryable
        return jsonify(error="The log counts cannot reach the database now; try later."), 503
    if rejected:
        log.info("telemetry drain: %d log records without a Heroku app name skipped", rejected)
    return _answer(kind, rejected)


def to_line(record: LogRecord, resource: dict[str, str], now: datetime) -> LogLine | None:
    """A log record as the `LogLine` a Logplex drain would give for it (`otlp_line`); None
    without a string body or a usable time."""
    if record.body.WhichOneof("value") != "string_value":
        return None
    nanos = record.time_unix_nano or record.observed_time_unix_nano
    attributes = _attributes(record.attributes)
    return otlp_line(record.body.string_value, nanos, attributes, resource, now)


def _decompressed(raw: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        if len(raw) > MAX_BODY:
            raise BadRequest("The request is too large.")
        return raw
    if encoding not in ("gzip", "deflate"):
        raise BadRequest(f"Content-Encoding {encoding!r} is not supported (gzip is).")
    inflater = zlib.decompressobj(wbits=47 if encoding == "gzip" else 15)
    try:
        body = inflater.decompress(raw, MAX_BODY + 1)
    except zlib.error as error:
        raise BadRequest(f"The body is not valid {encoding}.") from error
    if len(body) > MAX_BODY:
        raise BadRequest("The request is too large.")
    return body


def _decoded(body: bytes, kind: str) -> ExportLogsServiceRequest:
    export = ExportLogsServiceRequest()
    try:
        if kind == PROTOBUF:
            export.ParseFromString(body)
        else:
            json_format.Parse(body.decode("utf-8"), export, ignore_unknown_fields=True)
    except Exception as error:  # DecodeError, ParseError, UnicodeError, RecursionError…
        raise BadRequest(f"The body is not an OTLP ExportLogsServiceRequest ({kind}).") from error
    return export


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, str]:
    """The string-valued attributes (and ints, as text); others are left out."""
    found: dict[str, str] = {}
    for pair in pairs:
        which = pair.value.WhichOneof("value")
        if which == "string_value":
            found[pair.key] = pair.value.string_value
        elif which == "int_value":
            found[pair.key] = str(pair.value.int_value)
    return found


def _answer(kind: str, rejected: int) -> Response:
    answer = ExportLogsServiceResponse()
    if rejected:
        answer.partial_success.rejected_log_records = rejected
        answer.partial_success.error_message = (
            f"{rejected} log records had no Heroku app name in the resource's {APP_KEY}."
        )
    if kind == PROTOBUF:
        return Response(answer.SerializeToString(), 200, content_type=PROTOBUF)
    return Response(json_format.MessageToJson(answer, indent=None), 200, content_type=JSON)
