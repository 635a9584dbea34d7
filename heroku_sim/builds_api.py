"""The simulator's build endpoints (see `builds.py`): the Platform API's, the output streams
and the control routes. `build_api` registers them (`build_routes`).

    GET  /apps/{app}/builds                 Range: created_at ..; max=1, order=desc
    GET  /apps/{app}/builds/{id}
    GET  /apps/{app}/slugs/{id}
    GET  /_sim/streams/{builds|releases}/{id}   text/plain; Range: bytes=-N or bytes=N-
    POST /_sim/apps/{app}/builds            {"status"?, "commit"?, "message"?, "user"?, "output"?}
    POST /_sim/apps/{app}/builds/{id}/finish    {"status"?}
"""

from __future__ import annotations

import re

from flask import Flask, Response, request

from heroku_sim.model import DEFAULT_USER, Simulator

# The schema's ranges are `id` and `started_at`; the Heroku CLI sends `created_at`, which
# api.heroku.com takes (a build's `created_at` is when it started).
BUILD_RANGES = ("id", "created_at")
_BYTES = re.compile(r"^bytes=(\d*)-(\d*)$")


def build_routes(api: Flask, sim: Simulator) -> None:
    from heroku_sim.api import ApiError, _body, _field, _json_response, paginate, parse_range

    @api.get("/apps/<app>/builds")
    def builds(app: str) -> Response:
        spec = parse_range(request.headers.get("Range", ""), BUILD_RANGES)
        items = sim.builds.builds_json(app)
        # Builds of one second (a frozen clock) keep the order they were made in.
        ordered = list(reversed(items)) if spec.order == "desc" else items
        if spec.field == "id":
            ordered = items
        page, content_range, next_range = paginate(ordered, spec)
        response = _json_response(page, 206 if next_range else 200)
        response.headers["Accept-Ranges"] = ", ".join(BUILD_RANGES)
        response.headers["Content-Range"] = content_range
        if next_range:
            response.headers["Next-Range"] = next_range
        return response

    @api.get("/apps/<app>/builds/<build_id>")
    def build(app: str, build_id: str) -> Response:
        return _json_response(sim.builds.build_json(app, build_id))

    @api.get("/apps/<app>/slugs/<slug_id>")
    def slug(app: str, slug_id: str) -> Response:
        return _json_response(sim.builds.slug_json(app, slug_id))

    @api.get("/_sim/streams/<kind>/<ident>")
    def stream(kind: str, ident: str) -> Response:
        if kind not in ("builds", "releases"):
            raise ApiError(404, "Streams are builds/{id} or releases/{id}.")
        body = sim.builds.output(kind, ident).encode()
        wanted = _BYTES.match(request.headers.get("Range", "").strip())
        if not wanted or not (wanted[1] or wanted[2]):
            return Response(body, mimetype="text/plain")
        if wanted[1]:  # bytes=N- (resume), or bytes=N-M
            start = int(wanted[1])
            end = min(int(wanted[2]), len(body) - 1) if wanted[2] else len(body) - 1
        else:  # bytes=-N: the last N bytes
            start, end = max(0, len(body) - int(wanted[2])), len(body) - 1
        if start >= len(body) or start > end:
            answer = Response(b"", status=416, mimetype="text/plain")
            answer.headers["Content-Range"] = f"bytes */{len(body)}"
            return answer
        answer = Response(body[start : end + 1], status=206, mimetype="text/plain")
        answer.headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
        return answer

    @api.post("/_sim/apps/<app>/builds")
    def sim_push(app: str) -> Response:
        data = _body()
        build_id = sim.builds.push(
            app,
            user=_field(data, "user", str, DEFAULT_USER),
            commit=_field(data, "commit", str, None),
            message=_field(data, "message", str, None),
            status=_field(data, "status", str, "succeeded"),
            output=_field(data, "output", str, None),
        )
        return _json_response(sim.builds.build_json(app, build_id), 201)

    @api.post("/_sim/apps/<app>/builds/<build_id>/finish")
    def sim_finish_build(app: str, build_id: str) -> Response:
        sim.builds.finish_build(app, build_id, _field(_body(), "status", str, "succeeded"))
        return _json_response(sim.builds.build_json(app, build_id))
