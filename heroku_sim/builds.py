"""Builds, slugs and output streams of a simulated Heroku account (the Platform API's
schema, heroku/platform-api `schema.json`: `build`, `slug`).

- `push(app)` is a `git push heroku main`: a build (`pending`, `api:build` create), then
  `succeeded` (a slug with the commit, a "Deploy {sha7}" release on it, `api:build` update
  with previous_data `{"status": "pending"}`) or `failed` (its output ends in the error,
  `api:build` update); `status="pending"` leaves it running until `finish_build`.
- A build's output, and a failed or pending release's release-phase output, is served as
  `text/plain` at its `output_stream_url` (`/_sim/streams/{builds|releases}/{id}` on the
  simulator's server: not counted, faulted or rate-limited, like Heroku's own stream hosts),
  honouring `Range: bytes=-N` and `bytes=N-`. A build's output carries ANSI colour codes, as
  Heroku's do.
- `GET /apps/{app}/slugs/{id}` answers for every slug a release of the app runs: a pushed
  one with its commit and message, the others (seeded releases, `Simulator.deploy`) with a
  commit whose first 7 hex digits are their "Deploy 1a2b3c4" description's.

Everything runs under the simulator's lock; what this keeps is in `SimBuilds`, one per
`Simulator` (`sim.builds`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heroku_sim.model import Simulator, _App

Json = dict[str, Any]
BUILD_STATUSES = ("pending", "succeeded", "failed")
STACK = {"id": "ee582d3c-717d-4a57-ba5f-8b3a39f3a817", "name": "heroku-24"}
BUILDPACKS = [{"url": "https://github.com/heroku/heroku-buildpack-python", "name": "heroku/python"}]
HEROKU_STREAMS = {
    "builds": "https://build-output.heroku.com",
    "releases": "https://release-output.heroku.com",
}
_DEPLOY = re.compile(r"^Deploy ([0-9a-f]{7})\b")
# What a simulated commit says (a pushed one may say anything).
MESSAGES = (
    "Fix the rounding of order totals",
    "Add a health check endpoint",
    "Upgrade Flask to 3.1",
    "Cache the product listing for a minute",
    "Log slow database queries",
)
RED, BOLD_RED, GREEN, RESET = "\x1b[31m", "\x1b[1;31m", "\x1b[32m", "\x1b[0m"


def build_output(app: str, *, failed: bool, version: int | None = None) -> str:
    """A Python build's output, as Heroku's buildpack prints it (colours included)."""
    lines = [
        "-----> Building on the Heroku-24 stack",
        "-----> Using buildpack: heroku/python",
        "-----> Python app detected",
        "-----> Using Python 3.12.7 specified in .python-version",
        "-----> Restoring cache",
        "-----> Installing requirements with pip",
    ]
    packages = ["flask==3.1.0", "gunicorn==23.0.0", "requests==2.32.3", "sqlalchemy==2.0.36"]
    packages += ["psycopg[binary]==3.2.3", "apscheduler==3.11.0", "slack-bolt==1.21.2"]
    for package in packages:
        lines.append(f"       Collecting {package}")
        lines.append(f"         Downloading {package.split('==')[0]}-py3-none-any.whl")
    if failed:
        lines += [
            "       Collecting not-a-real-package==9.9",
            f"       {RED}ERROR: Could not find a version that satisfies the requirement "
            f"not-a-real-package==9.9 (from versions: none){RESET}",
            f"       {RED}ERROR: No matching distribution found for not-a-real-package==9.9{RESET}",
            f"{BOLD_RED} !     Push rejected, failed to compile Python app.{RESET}",
            f"{BOLD_RED} !     Push failed{RESET}",
        ]
    else:
        lines += [
            f"       {GREEN}Successfully installed{RESET} {len(packages)} packages",
            "-----> Discovering process types",
            "       Procfile declares types -> web, worker",
            "-----> Compressing...",
            "       Done: 52.4M",
            "-----> Launching...",
            f"       Released v{version}" if version else "       Released",
            f"       https://{app}.herokuapp.com/ deployed to Heroku",
        ]
    return "\n".join(lines) + "\n"


def release_output(failed: bool) -> str:
    """A release phase's output (`release: python manage.py migrate`)."""
    lines = ["Running release command...", "", "Operations to perform:", "  Apply all migrations"]
    if failed:
        lines += [
            "Running migrations:",
            "  Applying shop.0042_order_totals...",
            f'{RED}django.db.utils.ProgrammingError: column "total_cents" of relation '
            f'"shop_order" already exists{RESET}',
            "Waiting for release.... failed.",
        ]
    else:
        lines += ["Running migrations:", "  No migrations to apply."]
    return "\n".join(lines) + "\n"


@dataclass
class _Build:
    id: str
    app_id: str
    status: str
    commit: str
    message: str
    user_email: str
    user_id: str
    created_at: str
    updated_at: str
    output: str = ""
    slug_id: str | None = None
    release_id: str | None = None


@dataclass
class _Slug:
    id: str
    commit: str
    message: str
    created_at: str


@dataclass
class SimBuilds:
    """What the simulator keeps of builds, slugs and outputs (under `sim._lock`)."""

    sim: Simulator
    # Where output streams are served (set by `SimulatorServer`: its URL); None: Heroku's
    # hosts, which no test reaches.
    stream_base: str | None = None
    builds: dict[str, list[_Build]] = field(default_factory=dict)  # by app id, oldest first
    slugs: dict[str, _Slug] = field(default_factory=dict)
    outputs: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, id) -> text

    # -- URLs and outputs ---------------------------------------------------------------------

    def stream_url(self, kind: str, ident: str) -> str:
        """The `output_stream_url` of a build's or a release's output."""
        if self.stream_base:
            return f"{self.stream_base}/_sim/streams/{kind}/{ident}"
        return f"{HEROKU_STREAMS[kind]}/streams/{ident}"

    def output(self, kind: str, ident: str) -> str:
        """The output text of build or release `ident`; UnknownResourceError without one."""
        from heroku_sim.model import UnknownResourceError

        with self.sim._lock:
            if (kind, ident) in self.outputs:
                return self.outputs[(kind, ident)]
            if kind == "releases":
                for app in self.sim._apps.values():
                    for release in app.releases:
                        if release.id == ident and release.output_stream_url:
                            return release_output(release.status == "failed")
            raise UnknownResourceError("output stream", ident)

    # -- builds -------------------------------------------------------------------------------

    def push(
        self,
        app: str,
        *,
        user: str | None = None,
        commit: str | None = None,
        message: str | None = None,
        status: str = "succeeded",
        output: str | None = None,
    ) -> str:
        """A push of `commit` (default: a new one) that builds; returns the build's id.
        `status`: succeeded (then released), failed, or pending (see `finish_build`).
        `output`: the build's output (default: a Python build's, that fails or not).
        Raises UnknownAppError, InvalidParamsError."""
        from heroku_sim.model import DEFAULT_USER, InvalidParamsError

        if status not in BUILD_STATUSES:
            raise InvalidParamsError("A build is pending, succeeded or failed.")
        sim = self.sim
        with sim._lock:
            target = sim._app(app)
            email = user or DEFAULT_USER
            sha = commit or sim._hex(40)
            if not re.fullmatch(r"[0-9a-f]{7,40}", sha):
                raise InvalidParamsError("A commit is 7 to 40 lower-case hex digits.")
            now = sim._stamp()
            build = _Build(
                id=sim._uuid(),
                app_id=target.id,
                status="pending",
                commit=sha,
                message=message if message is not None else MESSAGES[int(sha[:6], 16) % 5],
                user_email=email,
                user_id=sim._user_id(email),
                created_at=now,
                updated_at=now,
            )
            self.builds.setdefault(target.id, []).append(build)
            if output is not None:
                self.outputs[("builds", build.id)] = output
            sim._emit(target, "api:build", "create", lambda: self._json(target, build), email)
            if status != "pending":
                self._finish(target, build, status)
            return build.id

    def finish_build(self, app: str, build_id: str, status: str = "succeeded") -> None:
        """End pending build `build_id` as succeeded (released) or failed."""
        from heroku_sim.model import InvalidParamsError

        if status not in ("succeeded", "failed"):
            raise InvalidParamsError("A build ends succeeded or failed.")
        with self.sim._lock:
            target = self.sim._app(app)
            build = self._build(target, build_id)
            if build.status != "pending":
                raise InvalidParamsError(f"Build {build_id} is {build.status}, not pending.")
            self._finish(target, build, status)

    def _finish(self, target: _App, build: _Build, status: str) -> None:
        sim = self.sim
        build.status = status
        build.updated_at = target.updated_at = sim._stamp()
        version = None
        if status == "succeeded":
            slug = _Slug(sim._uuid(), build.commit, build.message, build.updated_at)
            self.slugs[slug.id] = slug
            build.slug_id = slug.id
            release = sim._new_release(
                target, f"Deploy {build.commit[:7]}", build.user_email, slug.id
            )
            build.release_id, version = release.id, release.version
        self.outputs.setdefault(
            ("builds", build.id),
            build_output(target.name, failed=status == "failed", version=version),
        )
        sim._emit(
            target,
            "api:build",
            "update",
            lambda: self._json(target, build),
            build.user_email,
            previous={"status": "pending"},
        )

    def _build(self, target: _App, build_id: str) -> _Build:
        from heroku_sim.model import UnknownResourceError

        for build in self.builds.get(target.id, ()):
            if build.id == build_id:
                return build
        raise UnknownResourceError("build", build_id)

    # -- rendering (the schema's `build` and `slug`) ---------------------------------------

    def _json(self, target: _App, build: _Build) -> Json:
        return {
            "app": {"id": target.id, "name": target.name},
            "buildpacks": [dict(b) for b in BUILDPACKS],
            "created_at": build.created_at,
            "id": build.id,
            "output_stream_url": self.stream_url("builds", build.id),
            "source_blob": {
                "checksum": None,
                "url": f"https://codeload.github.com/example/{target.name}/tar.gz/{build.commit}",
                "version": build.commit,
                "version_description": build.message,
            },
            "release": {"id": build.release_id} if build.release_id else None,
            "slug": {"id": build.slug_id} if build.slug_id else None,
            "stack": STACK["name"],
            "status": build.status,
            "updated_at": build.updated_at,
            "user": {"id": build.user_id, "email": build.user_email},
        }

    def builds_json(self, app: str) -> list[Json]:
        """`GET /apps/{app}/builds`, oldest first."""
        with self.sim._lock:
            target = self.sim._app(app)
            return [self._json(target, b) for b in self.builds.get(target.id, ())]

    def build_json(self, app: str, build_id: str) -> Json:
        with self.sim._lock:
            target = self.sim._app(app)
            return self._json(target, self._build(target, build_id))

    def slug_json(self, app: str, slug_id: str) -> Json:
        """`GET /apps/{app}/slugs/{id}`: a slug a release of the app runs."""
        from heroku_sim.model import UnknownResourceError

        with self.sim._lock:
            target = self.sim._app(app)
            runs = [r for r in target.releases if r.slug_id == slug_id]
            if not runs:
                raise UnknownResourceError("slug", slug_id)
            slug = self.slugs.get(slug_id) or self._seeded_slug(slug_id, runs[0])
            return {
                "blob": {"method": "get", "url": f"https://slug-blobs.example/{slug.id}.tgz"},
                "buildpack_provided_description": "Python",
                "checksum": "SHA256:" + hashlib.sha256(slug.id.encode()).hexdigest(),
                "commit": slug.commit,
                "commit_description": slug.message,
                "created_at": slug.created_at,
                "id": slug.id,
                "process_types": {f.type: f.command for f in target.formation.values()},
                "size": 52_428_800,
                "stack": dict(STACK),
                "updated_at": slug.created_at,
                "deleted_at": None,
            }

    @staticmethod
    def _seeded_slug(slug_id: str, release: Any) -> _Slug:
        """The slug of a release made without a push: its commit begins with the hex of its
        "Deploy 1a2b3c4" description."""
        digest = hashlib.sha1(slug_id.encode(), usedforsecurity=False).hexdigest()
        match = _DEPLOY.match(release.description)
        commit = (match.group(1) + digest)[:40] if match else digest
        return _Slug(slug_id, commit, MESSAGES[int(digest[:6], 16) % 5], release.created_at)
