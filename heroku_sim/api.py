"""The Heroku Platform API in front of a `Simulator`, plus an unauthenticated control API.

`build_api(sim)` is a Flask app; `SimulatorServer` serves it from a daemon thread.

What a client sees, as on api.heroku.com
(https://devcenter.heroku.com/articles/platform-api-reference):
- `Accept: application/vnd.heroku+json; version=3` is required (406 `not_acceptable`),
  then `Authorization: Bearer <token>` (401 `unauthorized`); Basic auth with the token as
  password works too;
- error bodies are `{"id": ..., "message": ...}`;
- lists honour `Range: <field> [[]start]..[end][; max=N, order=asc|desc]`, default
  `id ..; max=200` (1000 at most), answer `Content-Range` and `Accept-Ranges`, and when
  cut off `206 Partial Content` with a `Next-Range` to send back as the next `Range`;
- every response carries `RateLimit-Remaining` and `Request-Id`; every body an `ETag`,
  and a GET whose `If-None-Match` matches gets `304` with an empty body (which still
  costs a rate-limit token: the docs promise nothing else).

Control routes live under `/_sim/` (see `_control_routes`); they need no headers, are not
counted, delayed or faulted, and never echo config var values.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import UnionType
from typing import Any, Literal

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from heroku_sim.certs import STATUS_PATH
from heroku_sim.model import (
    DEFAULT_USER,
    KEEP,
    ConflictError,
    InvalidParamsError,
    Json,
    Keep,
    Simulator,
    SimulatorError,
    UnknownAppError,
    UnknownResourceError,
)
from loopback import BackgroundServer

ACCEPT = re.compile(r"application/vnd\.heroku\+json;\s*version=3(\.[\w-]+)?(\s*[;,]|$)")
DEFAULT_MAX = 200
MAX_MAX = 1000
RATE_LIMIT_PATH = "/account/rate-limits"
# Message api.heroku.com answers for a malformed Range (seen in martyzz1/heroku3.py#12).
RANGE_MESSAGE = "Invalid `Range` header. Please use format like `id ..; max=10, order=desc`."
VERSION_MESSAGE = (
    "Please specify a version along with Heroku's API MIME type. "
    "For example, `Accept: application/vnd.heroku+json; version=3`."
)
NO_ROUTE_MESSAGE = (
    "The requested API endpoint was not found. Are you using the right HTTP verb (i.e. "
    "`GET` vs. `POST`), and did you specify your intended version with the `Accept` header?"
)
RATE_LIMIT_MESSAGE = (
    "Your account reached the API rate limit\nPlease wait a few minutes before making new requests"
)
ERROR_IDS = {
    400: "bad_request",
    401: "unauthorized",
    402: "delinquent",
    403: "forbidden",
    404: "not_found",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    416: "requested_range_not_satisfiable",
    422: "invalid_params",
    429: "rate_limit",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
ERROR_MESSAGES = {
    429: RATE_LIMIT_MESSAGE,
    500: "Internal server error.",
    503: "API is unavailable, check https://status.heroku.com for details.",
}
KIND_STATUS = {"not_found": 404, "invalid_params": 422, "conflict": 409, "bad_request": 400}
MALFORMED_BODY = b'{"id": "01234567-89ab-cdef-0123-456789abcdef", "name": "trunc'


class ApiError(Exception):
    """An error answer: `status` with body `{"id": error_id, "message": message, **extra}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_id: str | None = None,
        extra: Json | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id or ERROR_IDS.get(status, "error")
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}


@dataclass(frozen=True)
class RangeSpec:
    """A parsed `Range` header."""

    field: str
    start: str
    exclusive: bool
    end: str
    max: int
    order: Literal["asc", "desc"]


_RANGE = re.compile(
    r"^\s*(?P<field>[a-z_]+)\s+(?P<excl>[\[\]]?)(?P<start>.*?)\.\.(?P<end>[^;]*?)\s*"
    r"(?:;\s*(?P<params>[^;]*?)\s*;?\s*)?$"
)


def parse_range(header: str, accepted: tuple[str, ...]) -> RangeSpec:
    """The `RangeSpec` of `header` (empty: `id ..`), or ApiError 400 `bad_request`.

    Parameters after the `;` are comma-separated (`max=10, order=desc`); a second `;`
    between them is refused, as api.heroku.com does.
    """
    if not header.strip():
        return RangeSpec("id", "", False, "", DEFAULT_MAX, "asc")
    match = _RANGE.match(header)
    if not match or match["field"] not in accepted:
        raise ApiError(400, RANGE_MESSAGE)
    max_items, order = DEFAULT_MAX, "asc"
    for part in (match["params"] or "").split(","):
        if not part.strip():
            continue
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep:
            raise ApiError(400, RANGE_MESSAGE)
        if key == "max" and value.isdigit() and int(value) > 0:
            max_items = min(int(value), MAX_MAX)
        elif key == "order" and value in ("asc", "desc"):
            order = value
        else:
            raise ApiError(400, RANGE_MESSAGE)
    start, end = match["start"].strip(), match["end"].strip()
    if match["field"] == "version" and any(v and not v.isdigit() for v in (start, end)):
        raise ApiError(400, RANGE_MESSAGE)
    return RangeSpec(
        field=match["field"],
        start=start,
        exclusive=match["excl"] == "]",
        end=end,
        max=max_items,
        order="desc" if order == "desc" else "asc",
    )


def paginate(items: list[Json], spec: RangeSpec) -> tuple[list[Json], str, str | None]:
    """(page, Content-Range, Next-Range or None) of `items` under `spec`."""

    def key(value: Any) -> Any:
        return int(value) if spec.field == "version" else str(value)

    desc = spec.order == "desc"

    def inside(item: Json) -> bool:
        # In descending order the start bound is the high one: `version ]7..; order=desc`
        # is every version below 7.
        value = key(item[spec.field])
        if spec.start:
            start = key(spec.start)
            before = value > start if desc else value < start
            if before or (spec.exclusive and value == start):
                return False
        if spec.end:
            end = key(spec.end)
            if (value < end) if desc else (value > end):
                return False
        return True

    ordered = sorted(
        (i for i in items if inside(i)), key=lambda item: key(item[spec.field]), reverse=desc
    )
    page = ordered[: spec.max]
    params = f"max={spec.max}" + (", order=desc" if desc else "")
    if page:
        content_range = f"{spec.field} {page[0][spec.field]}..{page[-1][spec.field]}; {params}"
    else:
        content_range = f"{spec.field} ..; {params}"
    next_range = None
    if len(ordered) > len(page):
        next_range = f"{spec.field} ]{page[-1][spec.field]}..; {params}"
    return page, content_range, next_range


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _json_response(data: Any, status: int = 200) -> Response:
    return Response(_dumps(data), status=status, mimetype="application/json")


def _error_response(error: ApiError) -> Response:
    body = {"id": error.error_id, "message": error.message, **error.extra}
    response = _json_response(body, error.status)
    response.headers.update(error.headers)
    return response


def _etag(body: bytes) -> str:
    return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _token_from(header: str) -> str:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip()).decode()
        except ValueError:
            return ""
        return decoded.partition(":")[2]
    return ""


def _app_of(path: str) -> tuple[str | None, bool]:
    """(app name in an `/apps/{app}/...` path or None, whether the path reads apps).

    The account-wide lists of apps' resources, `/addons`, `/addon-attachments` and
    `/teams/{team}/apps`, read apps too: a fault queued for any app (app None) hits them,
    one for a named app does not.
    """
    parts = path.strip("/").split("/")
    if parts[0] in ("addons", "addon-attachments") or (
        parts[0] == "teams" and parts[2:3] == ["apps"]
    ):
        return None, True
    if parts[0] != "apps":
        return None, False
    return (parts[1] if len(parts) > 1 and parts[1] else None), True


def _model_error(error: SimulatorError) -> ApiError:
    if isinstance(error, UnknownAppError):
        return ApiError(404, "Couldn't find that app.", extra={"resource": "app"})
    if isinstance(error, UnknownResourceError):
        return ApiError(
            404, f"Couldn't find that {error.resource}.", extra={"resource": error.resource}
        )
    return ApiError(KIND_STATUS.get(error.kind, 400), str(error))


def build_api(sim: Simulator) -> Flask:
    """A Flask app serving the Platform API for `sim` and the `/_sim/` control API."""
    api = Flask("heroku_sim")

    def is_control() -> bool:
        return request.path == "/_sim" or request.path.startswith("/_sim/")

    def is_outside() -> bool:
        """Control routes, and status.heroku.com's API (another host, public): neither
        needs the Platform API's headers nor counts against its rate limit."""
        return is_control() or request.path == STATUS_PATH

    @api.before_request
    def gate() -> Response | None:
        """Latency, faults, Accept, auth, rate limit and malformed answers, in that order."""
        g.request_id = str(uuid.uuid4())
        if is_outside():
            return None
        if sim.latency:
            time.sleep(sim.latency)
        app_name, apps_path = _app_of(request.path)
        fault = sim.take_fault(app_name, apps_path=apps_path)
        if fault is not None:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            if fault.body is not None:
                body = (
                    fault.body
                    if isinstance(fault.body, bytes)
                    else (
                        fault.body.encode() if isinstance(fault.body, str) else _dumps(fault.body)
                    )
                )
                response = Response(body, status=fault.status, mimetype="application/json")
                response.headers.update(headers)
                return response
            message = ERROR_MESSAGES.get(fault.status, f"Simulated failure ({fault.status}).")
            return _error_response(ApiError(fault.status, message, headers=headers))
        if not ACCEPT.search(request.headers.get("Accept", "")):
            if sim.accept_error == "observed":
                # What api.heroku.com has answered to a request without a version.
                return _error_response(ApiError(400, VERSION_MESSAGE, error_id="missing_version"))
            return _error_response(ApiError(406, VERSION_MESSAGE))
        if not sim.check_token(_token_from(request.headers.get("Authorization", ""))):
            return _error_response(ApiError(401, "Invalid credentials provided."))
        # GET /account/rate-limits is free (platform-api-reference#rate-limits).
        if request.path != RATE_LIMIT_PATH and not sim.consume_rate_limit():
            return _error_response(ApiError(429, RATE_LIMIT_MESSAGE))
        if sim.take_malformed(app_name, apps_path=apps_path):
            return Response(MALFORMED_BODY, status=200, mimetype="application/json")
        return None

    @api.after_request
    def finish(response: Response) -> Response:
        """ETag / 304, RateLimit-Remaining, Request-Id and the byte counters."""
        response.headers["Request-Id"] = g.get("request_id") or str(uuid.uuid4())
        response.headers["RateLimit-Remaining"] = str(sim.rate_limit_remaining)
        if is_outside():
            return response
        body = response.get_data()
        if body:
            etag = _etag(body)
            if "Content-Range" in response.headers:
                etag = sim.list_etag((request.path, request.headers.get("Range", "")), etag)
            response.headers["ETag"] = etag
            conditional = request.headers.get("If-None-Match", "")
            if (
                request.method == "GET"
                and response.status_code in (200, 206)
                and conditional
                and _etag_matches(conditional, etag)
            ):
                response.status_code = 304
                response.set_data(b"")
                response.headers.pop("Content-Type", None)
        sim.record_response(request.path, response.status_code, len(response.get_data()))
        return response

    @api.errorhandler(ApiError)
    def on_api_error(error: ApiError) -> Response:
        return _error_response(error)

    @api.errorhandler(SimulatorError)
    def on_model_error(error: SimulatorError) -> Response:
        if is_control():
            return _error_response(_control_error(error))
        return _error_response(_model_error(error))

    @api.errorhandler(HTTPException)
    def on_http_error(error: HTTPException) -> Response:
        status = error.code or 500
        if status in (404, 405):
            return _error_response(ApiError(404, NO_ROUTE_MESSAGE))
        return _error_response(ApiError(status, error.description or "Request failed."))

    _api_routes(api, sim)
    _control_routes(api, sim)
    from heroku_sim.builds_api import build_routes  # builds, slugs, output streams

    build_routes(api, sim)
    return api


def _list(items: list[Json], accepted: tuple[str, ...]) -> Response:
    """A list answer paged by the request's `Range` (default `id ..; max=200`)."""
    spec = parse_range(request.headers.get("Range", ""), accepted)
    page, content_range, next_range = paginate(items, spec)
    response = _json_response(page, 206 if next_range else 200)
    response.headers["Accept-Ranges"] = ", ".join(accepted)
    response.headers["Content-Range"] = content_range
    if next_range:
        response.headers["Next-Range"] = next_range
    return response


def _body() -> Json:
    data = request.get_json(silent=True, force=True)
    if data is None and request.get_data():
        raise ApiError(400, "Request body is not valid JSON.")
    if data is not None and not isinstance(data, dict):
        raise ApiError(422, "Request body must be a JSON object.")
    return data or {}


def _webhook_secrets(data: Json) -> tuple[str | Keep | None, str | Keep | None]:
    """A webhook body's `secret` and `authorization`: a string, null, or KEEP when absent."""
    values: list[str | Keep | None] = []
    for name in ("secret", "authorization"):
        value = data.get(name, KEEP)
        if value is not None and not isinstance(value, str | Keep):
            raise ApiError(422, "secret and authorization are strings or null.")
        values.append(value)
    return values[0], values[1]


def _api_routes(api: Flask, sim: Simulator) -> None:
    """The read-only Platform API endpoints a monitor uses, plus app webhooks."""

    @api.get("/apps")
    def apps() -> Response:
        """Every app of the account, team apps included (the schema's ranges)."""
        return _list(sim.apps_json(), ("id", "name", "updated_at"))

    @api.get("/addons")
    def all_addons() -> Response:
        """Every add-on of the account ("Add-on List"), each naming its `app`."""
        return _list(sim.all_addons_json(), ("id", "name"))

    @api.get("/addon-attachments")
    def all_attachments() -> Response:
        """Every add-on attachment of the account ("Add-on Attachment List"): each add-on's
        own one on its billing app and those to other apps."""
        return _list(sim.attachments_json(), ("id", "name"))

    @api.get("/teams/<team>/apps")
    def team_apps(team: str) -> Response:
        """The team-app "List By Team", by team name or id; 404 `not_found` for another."""
        return _list(sim.team_apps_json(team), ("id", "name"))

    @api.get("/apps/<app>")
    def app_info(app: str) -> Response:
        return _json_response(sim.app_json(app))

    @api.get("/apps/<app>/dynos")
    def dynos(app: str) -> Response:
        return _list(sim.dynos_json(app), ("id", "name"))

    @api.get("/apps/<app>/dynos/<dyno>")
    def dyno(app: str, dyno: str) -> Response:
        return _json_response(sim.dyno_json(app, dyno))

    @api.get("/apps/<app>/releases")
    def releases(app: str) -> Response:
        return _list(sim.releases_json(app), ("id", "version"))

    @api.get("/apps/<app>/releases/<release>")
    def release(app: str, release: str) -> Response:
        key: int | str = int(release) if release.isdigit() else release
        return _json_response(sim.release_json(app, key))

    @api.get("/apps/<app>/addons")
    def addons(app: str) -> Response:
        return _list(sim.addons_json(app), ("id", "name"))

    @api.get("/apps/<app>/addons/<addon>")
    def addon(app: str, addon: str) -> Response:
        return _json_response(sim.addon_json(app, addon))

    @api.get("/apps/<app>/addon-attachments")
    def attachments(app: str) -> Response:
        """The attachments on the app ("List by App"), its own add-ons' and foreign ones."""
        return _list(sim.attachments_json(app), ("id", "name"))

    @api.get("/apps/<app>/addon-attachments/<attachment>")
    def attachment(app: str, attachment: str) -> Response:
        """One attachment on the app ("Info by App"), by id or name."""
        return _json_response(sim.attachment_json(app, attachment))

    @api.get("/apps/<app>/config-vars")
    def config_vars(app: str) -> Response:
        return _json_response(sim.config_vars(app))

    @api.get("/apps/<app>/formation")
    def formation(app: str) -> Response:
        return _list(sim.formation_json(app), ("id", "type"))

    @api.get("/apps/<app>/formation/<process_type>")
    def formation_type(app: str, process_type: str) -> Response:
        return _json_response(sim.formation_type_json(app, process_type))

    @api.get("/apps/<app>/webhooks")
    def webhooks(app: str) -> Response:
        return _list(sim.webhooks_json(app), ("id",))

    @api.post("/apps/<app>/webhooks")
    def create_webhook(app: str) -> Response:
        data = _body()
        include, level, url = data.get("include"), data.get("level"), data.get("url")
        if not isinstance(include, list) or not all(isinstance(e, str) for e in include):
            raise ApiError(422, 'include must be a list of entity names, e.g. ["api:release"].')
        if not isinstance(level, str) or not isinstance(url, str):
            raise ApiError(422, "level and url are required strings.")
        secret, authorization = _webhook_secrets(data)
        hook = sim.create_webhook(
            app,
            include=include,
            level=level,
            url=url,
            secret=None if isinstance(secret, Keep) else secret,
            authorization=None if isinstance(authorization, Keep) else authorization,
        )
        return _json_response(hook, 201)

    @api.patch("/apps/<app>/webhooks/<webhook_id>")
    def update_webhook(app: str, webhook_id: str) -> Response:
        """Every field optional: include, level, url, secret, authorization."""
        data = _body()
        include, level, url = data.get("include"), data.get("level"), data.get("url")
        if include is not None and (
            not isinstance(include, list) or not all(isinstance(e, str) for e in include)
        ):
            raise ApiError(422, 'include must be a list of entity names, e.g. ["api:release"].')
        if (level is not None and not isinstance(level, str)) or (
            url is not None and not isinstance(url, str)
        ):
            raise ApiError(422, "level and url are strings.")
        secret, authorization = _webhook_secrets(data)
        hook = sim.update_webhook(
            app,
            webhook_id,
            include=include,
            level=level,
            url=url,
            secret=secret,
            authorization=authorization,
        )
        return _json_response(hook)

    @api.get("/apps/<app>/webhooks/<webhook_id>")
    def webhook(app: str, webhook_id: str) -> Response:
        return _json_response(sim.webhook_json(app, webhook_id))

    @api.delete("/apps/<app>/webhooks/<webhook_id>")
    def delete_webhook(app: str, webhook_id: str) -> Response:
        return _json_response(sim.delete_webhook(app, webhook_id))

    @api.get("/apps/<app>/log-drains")
    def log_drains(app: str) -> Response:
        return _list(sim.log_drains_json(app), ("id",))

    @api.post("/apps/<app>/log-drains")
    def create_log_drain(app: str) -> Response:
        url = _body().get("url")
        if not isinstance(url, str):
            raise ApiError(422, "url is a required string.")
        return _json_response(sim.create_log_drain(app, url), 201)

    @api.delete("/apps/<app>/log-drains/<path:drain>")
    def delete_log_drain(app: str, drain: str) -> Response:
        return _json_response(sim.delete_log_drain(app, drain))

    @api.get(RATE_LIMIT_PATH)
    def rate_limits() -> Response:
        return _json_response({"remaining": sim.rate_limit_remaining})

    # SPEC §15 (heroku_sim/certs.py): domains, SNI endpoints, and status.heroku.com's API.
    @api.get("/apps/<app>/domains")
    def domains(app: str) -> Response:
        return _list(sim.certs.domains_json(app), ("id", "hostname"))

    @api.get("/apps/<app>/sni-endpoints")
    def sni_endpoints(app: str) -> Response:
        return _list(sim.certs.sni_endpoints_json(app), ("id", "name"))

    @api.get(STATUS_PATH)
    def current_status() -> Response:
        return _json_response(sim.status_page.current_status_json())


def _control_error(error: SimulatorError) -> ApiError:
    if isinstance(error, UnknownAppError):
        return ApiError(
            404,
            f"No simulated app named {error.app!r}. Create it first: POST /_sim/apps "
            f'{{"name": "{error.app}"}}.',
        )
    if isinstance(error, UnknownResourceError):
        return ApiError(404, str(error), extra={"resource": error.resource})
    if isinstance(error, InvalidParamsError):
        return ApiError(422, str(error))
    if isinstance(error, ConflictError):
        return ApiError(409, str(error))
    return ApiError(400, str(error))


_KIND_NAMES = {str: "string", int: "integer", bool: "boolean", dict: "object", list: "list"}


def _field(data: Json, name: str, kind: type | UnionType, default: Any = ...) -> Any:
    """`data[name]` checked to be a `kind`; ApiError 422 when missing (and no default)."""
    if name not in data or data[name] is None:
        if default is ...:
            raise ApiError(422, f"{name!r} is required.")
        return default
    value = data[name]
    # bool is an int in Python, not in JSON.
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        expected = _KIND_NAMES.get(kind, "number") if isinstance(kind, type) else "number"
        raise ApiError(422, f"{name!r} must be a {expected}.")
    return value


def _control_routes(api: Flask, sim: Simulator) -> None:
    """`/_sim/...`: make things happen to simulated apps. JSON in, JSON out, no auth.

    POST   /_sim/apps        {"name", "dynos"?, "config"?, "addons"?, "releases"?, "team"?}
    GET    /_sim/apps
    DELETE /_sim/apps/{app}                             (the app and all of it)
    POST   /_sim/apps/{app}/team                        {"team": name_or_id | null}
    POST   /_sim/teams                                  {"name"}
    GET    /_sim/teams
    POST   /_sim/apps/{app}/dynos/{name}/crash|stop|start|restart
    POST   /_sim/apps/{app}/dynos/{name}/state          {"state"}
    POST   /_sim/apps/{app}/scale                       {"type", "quantity"}
    POST   /_sim/apps/{app}/deploy                      {"user"?, "status"?}
    POST   /_sim/apps/{app}/releases/{v}/finish         {"status"?}
    POST   /_sim/apps/{app}/rollback                    {"version", "user"?}
    POST   /_sim/apps/{app}/config                      {"set"?: {...}, "unset"?: [...], "user"?}
    POST   /_sim/apps/{app}/addons                      {"service", "plan", "state"?}
    DELETE /_sim/apps/{app}/addons/{id_or_name}
    POST   /_sim/apps/{app}/addons/{id_or_name}/state   {"state"}
    POST   /_sim/apps/{app}/addons/{id_or_name}/attachments  {"app", "name"?, "user"?}
    DELETE /_sim/apps/{app}/addon-attachments/{id_or_name}  (a foreign attachment only)
    POST   /_sim/apps/{app}/maintenance                 {"on"}
    GET    /_sim/apps/{app}/webhooks                    (secrets redacted)
    POST   /_sim/faults                  {"app"?, "status"?, "count"?, "retry_after"?, "body"?}
    DELETE /_sim/faults                                 (also clears malformed and latency)
    POST   /_sim/malformed                              {"app"?, "count"?}
    POST   /_sim/latency                                {"seconds"}
    POST   /_sim/token                                  {"token"}
    POST   /_sim/rate-limit                             {"remaining"}
    GET    /_sim/stats
    POST   /_sim/stats/reset
    POST   /_sim/apps/{app}/certs/expire|renew|fail-acm|fix-acm  {"days"?, "reason"?}
    POST   /_sim/status/incidents                       {"title", "systems"?}
    POST   /_sim/status/incidents/{id}/updates          {"contents", "update_type"?}
    GET    /_sim/deliveries              webhook delivery attempts ({"deliveries", "pending"})
    POST   /_sim/deliveries/pause|resume
    """

    def done(**extra: Any) -> Response:
        return _json_response({"ok": True, **extra})

    @api.post("/_sim/apps")
    def sim_create_app() -> Response:
        data = _body()
        name = _field(data, "name", str)
        addons = _field(data, "addons", list, None)
        pairs = None
        if addons is not None:
            if not all(isinstance(a, list | tuple) and len(a) == 2 for a in addons):
                raise ApiError(422, "addons is a list of [service, plan] pairs.")
            pairs = [(str(s), str(p)) for s, p in addons]
        dynos = _field(data, "dynos", dict, None)
        config = _field(data, "config", dict, None)
        sim.create_app(
            name,
            dynos={str(k): int(v) for k, v in dynos.items()} if dynos is not None else None,
            config={str(k): str(v) for k, v in config.items()} if config is not None else None,
            addons=pairs,
            releases=_field(data, "releases", int, 3),
            team=_field(data, "team", str, None),
        )
        return _json_response(sim.app_json(name), 201)

    @api.get("/_sim/apps")
    def sim_apps() -> Response:
        return _json_response({"apps": sim.app_names()})

    @api.delete("/_sim/apps/<app>")
    def sim_delete_app(app: str) -> Response:
        sim.delete_app(app)
        return done()

    @api.post("/_sim/apps/<app>/team")
    def sim_move_app(app: str) -> Response:
        data = _body()
        if "team" not in data:
            raise ApiError(422, "'team' is required: a team name, or null to leave the team.")
        sim.move_app(app, _field(data, "team", str, None))
        return _json_response(sim.app_json(app))

    @api.post("/_sim/teams")
    def sim_create_team() -> Response:
        return _json_response(sim.create_team(_field(_body(), "name", str)), 201)

    @api.get("/_sim/teams")
    def sim_teams() -> Response:
        return _json_response({"teams": sim.team_names()})

    dyno_actions: dict[str, Callable[[str, str], None]] = {
        "crash": sim.crash_dyno,
        "stop": sim.stop_dyno,
        "start": sim.start_dyno,
        "restart": sim.restart_dyno,
    }

    @api.post("/_sim/apps/<app>/dynos/<name>/<action>")
    def sim_dyno(app: str, name: str, action: str) -> Response:
        if action == "state":
            sim.set_dyno_state(app, name, _field(_body(), "state", str))
        elif action in dyno_actions:
            dyno_actions[action](app, name)
        else:
            raise ApiError(404, f"Unknown dyno action {action!r}; use crash, stop, start, restart.")
        return _json_response(sim.dyno_json(app, name))

    @api.post("/_sim/apps/<app>/scale")
    def sim_scale(app: str) -> Response:
        data = _body()
        sim.scale(app, _field(data, "type", str), _field(data, "quantity", int))
        return _json_response(sim.formation_json(app))

    @api.post("/_sim/apps/<app>/deploy")
    def sim_deploy(app: str) -> Response:
        data = _body()
        version = sim.deploy(
            app,
            _field(data, "user", str, DEFAULT_USER),
            status=_field(data, "status", str, "succeeded"),
        )
        return done(version=version)

    @api.post("/_sim/apps/<app>/releases/<int:version>/finish")
    def sim_finish(app: str, version: int) -> Response:
        sim.finish_release(app, version, _field(_body(), "status", str, "succeeded"))
        return done(version=version)

    @api.post("/_sim/apps/<app>/rollback")
    def sim_rollback(app: str) -> Response:
        data = _body()
        version = sim.rollback(
            app, _field(data, "version", int), _field(data, "user", str, DEFAULT_USER)
        )
        return done(version=version)

    @api.post("/_sim/apps/<app>/config")
    def sim_config(app: str) -> Response:
        data = _body()
        user = _field(data, "user", str, DEFAULT_USER)
        to_set = _field(data, "set", dict, {})
        to_unset = _field(data, "unset", list, [])
        if not to_set and not to_unset:
            raise ApiError(422, 'Give "set": {NAME: value} and/or "unset": [NAME].')
        versions = []
        if to_set:
            versions.append(sim.set_config(app, {str(k): str(v) for k, v in to_set.items()}, user))
        if to_unset:
            versions.append(sim.unset_config(app, [str(n) for n in to_unset], user))
        # Names only: a value never leaves the simulator except through /config-vars.
        return done(versions=versions, set=sorted(to_set), unset=sorted(map(str, to_unset)))

    @api.post("/_sim/apps/<app>/addons")
    def sim_add_addon(app: str) -> Response:
        data = _body()
        addon_id = sim.add_addon(
            app,
            _field(data, "service", str),
            _field(data, "plan", str),
            state=_field(data, "state", str, "provisioning"),
        )
        return _json_response(sim.addon_json(app, addon_id), 201)

    @api.delete("/_sim/apps/<app>/addons/<addon>")
    def sim_remove_addon(app: str, addon: str) -> Response:
        sim.remove_addon(app, addon)
        return done()

    @api.post("/_sim/apps/<app>/addons/<addon>/state")
    def sim_addon_state(app: str, addon: str) -> Response:
        sim.set_addon_state(app, addon, _field(_body(), "state", str))
        return _json_response(sim.addon_json(app, addon))

    @api.post("/_sim/apps/<app>/addons/<addon>/attachments")
    def sim_attach_addon(app: str, addon: str) -> Response:
        """Attach add-on `addon` of `app` to app `"app"` of the body; 201, the attachment."""
        data = _body()
        to_app = _field(data, "app", str)
        attachment_id = sim.attach_addon(
            app,
            addon,
            to_app,
            name=_field(data, "name", str, None),
            user=_field(data, "user", str, DEFAULT_USER),
        )
        return _json_response(sim.attachment_json(to_app, attachment_id), 201)

    @api.delete("/_sim/apps/<app>/addon-attachments/<attachment>")
    def sim_detach_addon(app: str, attachment: str) -> Response:
        sim.detach_addon(app, attachment)
        return done()

    @api.post("/_sim/apps/<app>/maintenance")
    def sim_maintenance(app: str) -> Response:
        sim.set_maintenance(app, _field(_body(), "on", bool))
        return _json_response(sim.app_json(app))

    @api.get("/_sim/apps/<app>/webhooks")
    def sim_webhooks(app: str) -> Response:
        hooks = sim.webhooks(app)
        for hook in hooks:
            hook["secret"] = "[set]" if hook["secret"] else None
            hook["authorization"] = "[set]" if hook["authorization"] else None
        return _json_response(hooks)

    @api.post("/_sim/faults")
    def sim_fault() -> Response:
        data = _body()
        retry_after = _field(data, "retry_after", int | float, None)
        sim.inject_fault(
            _field(data, "app", str, None),
            status=_field(data, "status", int, 500),
            count=_field(data, "count", int, 1),
            body=data.get("body"),
            retry_after=float(retry_after) if retry_after is not None else None,
        )
        return done()

    @api.delete("/_sim/faults")
    def sim_clear_faults() -> Response:
        sim.clear_faults()
        return done()

    @api.post("/_sim/malformed")
    def sim_malformed() -> Response:
        data = _body()
        sim.inject_malformed(_field(data, "app", str, None), _field(data, "count", int, 1))
        return done()

    @api.post("/_sim/latency")
    def sim_latency() -> Response:
        seconds = _field(_body(), "seconds", int | float)
        sim.set_latency(float(seconds))
        return done(seconds=float(seconds))

    @api.post("/_sim/token")
    def sim_token() -> Response:
        sim.set_token(_field(_body(), "token", str))
        return done()

    @api.post("/_sim/rate-limit")
    def sim_rate_limit() -> Response:
        sim.set_rate_limit_remaining(_field(_body(), "remaining", int))
        return done(remaining=sim.rate_limit_remaining)

    @api.get("/_sim/stats")
    def sim_stats() -> Response:
        return _json_response(sim.stats())

    @api.post("/_sim/stats/reset")
    def sim_reset_stats() -> Response:
        sim.reset_counters()
        return done()

    @api.post("/_sim/apps/<app>/certs/<action>")
    def sim_certs(app: str, action: str) -> Response:
        """SPEC §15: `expire` {"days"?}, `renew` {"days"?}, `fail-acm` {"reason"?},
        `fix-acm`."""
        data = _body()
        if action == "expire":
            return done(
                expires_at=sim.certs.expire_soon(app, _field(data, "days", int | float, 10))
            )
        if action == "renew":
            return done(expires_at=sim.certs.renew(app, _field(data, "days", int | float, 90)))
        if action == "fail-acm":
            reason = _field(data, "reason", str, "Failing CCA check")
            return done(hostname=sim.certs.fail_acm(app, reason))
        if action == "fix-acm":
            return done(hostname=sim.certs.fix_acm(app))
        raise ApiError(
            404, f"Unknown certs action {action!r}; use expire, renew, fail-acm, fix-acm."
        )

    @api.post("/_sim/status/incidents")
    def sim_status_incident() -> Response:
        """Heroku's status API: a new incident {"title", "systems"?: {"Apps": "red"}}."""
        data = _body()
        try:
            found = sim.status_page.start_incident(
                _field(data, "title", str), systems=_field(data, "systems", dict, None)
            )
        except ValueError as exc:
            raise ApiError(422, str(exc)) from exc
        return done(id=found)

    @api.post("/_sim/status/incidents/<int:incident_id>/updates")
    def sim_status_update(incident_id: int) -> Response:
        """An update {"contents", "update_type"?} (`resolved` ends the incident)."""
        data = _body()
        try:
            found = sim.status_page.add_update(
                incident_id,
                _field(data, "contents", str),
                _field(data, "update_type", str, "update"),
            )
        except KeyError as exc:
            raise ApiError(404, str(exc)) from exc
        return done(id=found)

    @api.get("/_sim/deliveries")
    def sim_deliveries() -> Response:
        # Records name the URL, never the secret or the Authorization value.
        return _json_response({"deliveries": sim.deliveries, "pending": sim.pending_deliveries})

    @api.post("/_sim/deliveries/<action>")
    def sim_deliveries_control(action: str) -> Response:
        if action == "pause":
            sim.pause_deliveries()
        elif action == "resume":
            sim.resume_deliveries()
        else:
            raise ApiError(404, f"Unknown deliveries action {action!r}; use pause or resume.")
        return done(pending=sim.pending_deliveries)


class SimulatorServer(BackgroundServer):
    """Serve `build_api(sim)` on `host:port` (0: any free port) from a daemon thread.

    The socket is bound on construction, so `url` is known before `start()`.
    Use as a context manager, or call `start()` and `stop()`.
    """

    def __init__(self, sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(build_api(sim), host, port, name="heroku-simulator")
        self.sim = sim
        sim.builds.stream_base = self.url  # output streams are served here

    def stop(self) -> None:
        """Stop serving and close the socket (waits up to 5 s for the thread), and stop the
        simulator's webhook delivery thread (`Simulator.close()`)."""
        super().stop()
        self.sim.close()
