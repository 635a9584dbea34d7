"""In-memory state of a simulated Heroku account: teams, apps, dynos, releases, add-ons,
config vars.

Pure Python, no HTTP: `api.py` puts the Platform API in front of it. Every public method
takes one lock, so tests, the demo dashboard and the HTTP threads can use one `Simulator` at
once. Rendered resources follow `heroku-api-reference.json` (the Platform API's JSON schema).

Heroku behaviour copied on purpose (https://devcenter.heroku.com/articles/releases):
- an app's `updated_at` moves whenever the app changes: every new release (pending and
  failed ones too), a release finishing, maintenance, a move into or out of a team;
  `released_at` moves only when a release becomes current;
- a deploy, a config var change, an add-on attach or detach and a rollback each create a
  release; every succeeded release restarts the app's dynos (new dyno ids, same names);
- a rollback copies the target release's slug *and* its config vars (add-on managed vars
  excepted), https://devcenter.heroku.com/articles/releases#rollback;
- release descriptions use Heroku's wording: "Initial release", "Deploy 1a2b3c4",
  "Set FOO, BAR config vars", "Remove FOO config vars", "Rollback to v7",
  "Attach DATABASE (@ref:postgresql-curly-12345)", "Detach ...", and, when an add-on that
  was provisioning finishes, "@ref:redis-shallow-12345 completed provisioning, setting
  REDIS_URL.";
- the rate limit is a pool of 4,500 tokens, one per request, `GET /account/rate-limits`
  free; Heroku refills about 75 a minute
  (https://devcenter.heroku.com/articles/platform-api-reference#rate-limits), the
  simulator only when asked (`rate_limit_refill_per_minute=HEROKU_REFILL_PER_MINUTE`).

App webhooks: every change is also an event, delivered to each subscription of the app
whose `include` names its entity (see `deliveries.py` for headers, signature and retries):
- dyno state changes, restarts (also by a release) -> `dyno` update; dynos added / removed
  by `scale` -> `dyno` create / destroy. `data` is the dyno as `GET .../dynos` renders it;
- every new release -> `api:release` create; `finish_release` -> `api:release` update with
  previous_data `{"status": "pending"}`;
- add-on added / state changed / removed -> `api:addon` create / update / destroy;
- add-on attached to / detached from the app (its own attachment when it is added to or
  removed from its billing app, too) -> `api:addon-attachment` create / destroy, `data`
  the attachment as `GET .../addon-attachments` renders it;
- `scale` changing a quantity -> `api:formation` update, previous_data `{"quantity": old}`;
- maintenance switched -> `api:app` update, previous_data `{"maintenance": old}`;
- app moved into / out of a team -> `api:app` update, previous_data `{"team": old}`.
A change that changes nothing (crashing a crashed dyno) sends nothing. The simulator has
no one-off dynos, so it never sends `api:dyno` (Heroku's event for one-off dynos). A deleted
app's subscriptions go with it: nothing more is delivered for them.

Teams: an app belongs to at most one team. The app renders it as `team` (and as
`organization`, the deprecated name Heroku keeps for it) `{"id", "name"}`, or null; the
team-app resource of `GET /teams/{team}/apps` follows the Platform API schema's `team-app`
definition (heroku/platform-api `schema.json`), whose `team` is `{"name"}` only.

Add-on attachments (https://devcenter.heroku.com/articles/managing-add-ons, "heroku
addons:attach"): every add-on has its own attachment on its billing app (`attachment`, e.g.
DATABASE) and may be attached to other apps of the account too. An attached app gets the
add-on's config var under the attachment's name with the same value (the same database),
an "Attach" release, and lists the add-on among its own in `GET /apps/{app}/addons`, as its
billing app renders it. Removing the add-on, or deleting its billing app, detaches it from
every other app ("Detach" releases); deleting an app an add-on is attached to drops the
attachment with it. `GET /addon-attachments` follows the schema's `add-on-attachment`.

Config var values never leave this module except through `config_vars()`, the model of
`GET /apps/{app}/config-vars`; nothing here logs.
"""

from __future__ import annotations

import copy
import math
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from heroku_sim.builds import SimBuilds
from heroku_sim.certs import Certificates, StatusPage
from heroku_sim.deliveries import (
    DEFAULT_TIMEOUT,
    EVENT_VERSION,
    HEROKU_SYNC_RETRY_DELAYS,
    Dispatcher,
    Notification,
)

Json = dict[str, Any]
Clock = Callable[[], datetime]

DYNO_STATES = ("up", "starting", "idle", "crashed", "down")
RELEASE_STATUSES = ("pending", "succeeded", "failed", "expired")
ADDON_STATES = ("provisioning", "provisioned", "deprovisioned")
WEBHOOK_ENTITIES = (
    "api:addon-attachment",
    "api:addon",
    "api:app",
    "api:build",
    "api:collaborator",
    "api:domain",
    "api:dyno",
    "api:formation",
    "api:release",
    "api:sni-endpoint",
    "dyno",
)
WEBHOOK_LEVELS = ("notify", "sync")
# Heroku documents no answer for a second webhook at one URL; the simulator refuses it the
# way the Platform API refuses other duplicates: 409 {"id": "conflict", "message": ...}.
WEBHOOK_CONFLICT = "A webhook with that URL already exists for this app."


# How long before its creation a seeded app was last deployed.
SEED_AGE = timedelta(days=1)


class Keep:
    """The type of `KEEP`: "leave this field as it is" where None means "set to null"."""


KEEP = Keep()


def _check_webhook(include: Sequence[str], level: str, url: str) -> None:
    """InvalidParamsError unless `include`, `level` and `url` are what Heroku accepts."""
    if not include or any(e not in WEBHOOK_ENTITIES for e in include):
        raise InvalidParamsError(f"include must list entities among {', '.join(WEBHOOK_ENTITIES)}.")
    if level not in WEBHOOK_LEVELS:
        raise InvalidParamsError("level must be notify or sync.")
    if not re.match(r"^https?://[^\s/]+", url or ""):
        raise InvalidParamsError("url must be an http(s) URL.")


DEFAULT_TOKEN = "sim-token"
DEFAULT_USER = "dev@example.com"
RATE_LIMIT_MAX = 4500
# What api.heroku.com refills; pass it as `rate_limit_refill_per_minute` for a long demo.
# The default is no refill, so counts stay exact however long a test takes.
HEROKU_REFILL_PER_MINUTE = 75.0
# Heroku's app name rule, from the schema's `app.name.pattern`.
APP_NAME = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")
# The schema gives team names no pattern; the simulator takes lower-case letters, digits
# and dashes, starting with a letter or digit (e.g. "acme", "acme-2").
TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
CONFIG_VAR_NAME = re.compile(r"^\w+$")
# What Heroku takes as an attachment name (`heroku addons:attach --as NAME`).
ATTACHMENT_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")

DEFAULT_DYNOS: Mapping[str, int] = {"web": 2, "worker": 1}
DEFAULT_ADDONS: Sequence[tuple[str, str]] = (
    ("heroku-postgresql", "heroku-postgresql:essential-0"),
)
DYNO_SIZE = "standard-1X"
COMMANDS = {
    "web": "gunicorn app:app --bind 0.0.0.0:$PORT",
    "worker": "python worker.py",
    "clock": "python clock.py",
    "release": "python manage.py migrate",
}
# Attachment names Heroku gives the first add-on of a service; later ones get a colour.
PRIMARY_ATTACHMENT = {"heroku-postgresql": "DATABASE", "heroku-redis": "REDIS"}
COLOURS = ("RED", "BLUE", "GREEN", "AMBER", "OLIVE", "PURPLE", "SILVER", "TEAL", "WHITE")
ADJECTIVES = (
    "angular",
    "clear",
    "curly",
    "defined",
    "encircled",
    "flat",
    "flexible",
    "graceful",
    "rigid",
    "shallow",
    "sinuous",
    "slippery",
    "solid",
    "vertical",
)
PLAN_CENTS = {"essential-0": 500, "essential-1": 900, "essential-2": 2000, "mini": 300}
_ID_NAMESPACE = uuid.UUID("6f1d5b8e-3c1a-4e59-9d0e-5a2f7c0b9e11")


class SimulatorError(Exception):
    """Base of every error the model raises; `kind` says which, for the HTTP layer."""

    kind = "bad_request"


class UnknownAppError(SimulatorError, LookupError):
    """No app of that name (or id) exists in the simulator; `app` is what was asked for."""

    kind = "not_found"

    def __init__(self, app: str) -> None:
        super().__init__(f"Couldn't find that app: {app!r}.")
        self.app = app


class UnknownResourceError(SimulatorError, LookupError):
    """No dyno / release / add-on / formation / webhook matches; `resource` names which."""

    kind = "not_found"

    def __init__(self, resource: str, ident: object) -> None:
        super().__init__(f"Couldn't find that {resource}: {ident!r}.")
        self.resource = resource


class InvalidParamsError(SimulatorError, ValueError):
    """An argument is outside what Heroku accepts (bad name, state, status, quantity...)."""

    kind = "invalid_params"


class ConflictError(SimulatorError):
    """The change clashes with existing state (e.g. an app of that name already exists)."""

    kind = "conflict"


@dataclass
class Fault:
    """A queued failure: the next `count` matching API requests answer `status`."""

    app: str | None
    status: int
    count: int
    body: Any = None
    retry_after: float | None = None


@dataclass
class _Dyno:
    id: str
    name: str
    type: str
    state: str
    command: str
    created_at: str
    updated_at: str
    release_id: str
    release_version: int
    size: str = DYNO_SIZE


@dataclass
class _Formation:
    id: str
    type: str
    command: str
    quantity: int
    created_at: str
    updated_at: str
    size: str = DYNO_SIZE


@dataclass
class _Release:
    id: str
    version: int
    status: str
    description: str
    user_email: str
    user_id: str
    slug_id: str | None
    created_at: str
    updated_at: str
    addon_plan_names: list[str]
    config: dict[str, str]
    output_stream_url: str | None


@dataclass
class _Addon:
    id: str
    name: str
    service: str
    plan: str
    state: str
    attachment: str
    created_at: str
    updated_at: str
    provider_id: str
    # The id of its own attachment (named `attachment`) on its billing app.
    attachment_id: str

    @property
    def config_var(self) -> str:
        return f"{self.attachment}_URL"


@dataclass(eq=False)
class _Attachment:
    """Add-on `addon` of billing app `owner`, attached under `name` to another app (the
    one whose `attachments` hold it). An add-on's own attachment is rendered from the
    add-on itself (`Simulator._own_attachment`)."""

    id: str
    name: str
    addon: _Addon = field(repr=False)
    owner: _App = field(repr=False)
    created_at: str
    updated_at: str

    @property
    def config_var(self) -> str:
        return f"{self.name}_URL"


@dataclass
class _Webhook:
    id: str
    include: list[str]
    level: str
    url: str
    secret: str | None
    authorization: str | None
    created_at: str
    updated_at: str


@dataclass
class _LogDrain:
    id: str
    url: str
    token: str
    created_at: str
    updated_at: str


@dataclass
class _Team:
    id: str
    name: str
    created_at: str
    updated_at: str


@dataclass
class _App:
    id: str
    name: str
    owner_email: str
    owner_id: str
    created_at: str
    updated_at: str
    released_at: str | None
    web_url: str
    maintenance: bool = False
    team_id: str | None = None
    current_release_id: str | None = None
    dynos: list[_Dyno] = field(default_factory=list)
    formation: dict[str, _Formation] = field(default_factory=dict)
    releases: list[_Release] = field(default_factory=list)
    addons: list[_Addon] = field(default_factory=list)
    config: dict[str, str] = field(default_factory=dict)
    # Add-ons of other apps attached to this one (its own add-ons' attachments excepted).
    attachments: list[_Attachment] = field(default_factory=list)
    webhooks: list[_Webhook] = field(default_factory=list)
    log_drains: list[_LogDrain] = field(default_factory=list)
    # Fir telemetry drains: (OTLP logs endpoint URL, headers), as `heroku telemetry:add`.
    telemetry_drains: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _stable_id(kind: str, name: str) -> str:
    """Same UUID for the same service / plan / region on every run."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}:{name}"))


class Simulator:
    """A fake Heroku account holding apps; thread-safe.

    `clock` returns the current time (aware, or naive meaning UTC); inject one to freeze or
    step time. `seed` makes ids, commit hashes and add-on names reproducible.
    `rate_limit_refill_per_minute` refills the 4,500-token pool with time (0: never).
    `restart_dynos_on_release=False` keeps dynos (and a crashed state) across releases,
    which real Heroku does not do. `accept_error="observed"` answers a missing API version
    the way api.heroku.com has been seen to (400 `missing_version`) instead of the
    documented 406 `not_acceptable`.

    Webhook delivery: `webhook_retry_delays` are the waits before each retry of a failed
    `sync` delivery (default: Heroku's schedule, `HEROKU_SYNC_RETRY_DELAYS`; tests pass
    e.g. `(0.05, 0.1)`); `duplicate_deliveries=True` sends every delivered notification a
    second time, as Heroku (at least once) may; `webhook_timeout` bounds each POST.
    Deliveries come from one background thread, started by the first notification; call
    `close()` (or stop the `SimulatorServer`) to stop it.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        clock: Clock | None = None,
        seed: int | None = None,
        rate_limit: int = RATE_LIMIT_MAX,
        rate_limit_refill_per_minute: float = 0.0,
        restart_dynos_on_release: bool = True,
        accept_error: Literal["documented", "observed"] = "documented",
        webhook_retry_delays: Sequence[float] | None = None,
        duplicate_deliveries: bool = False,
        webhook_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._lock = threading.RLock()
        self._clock: Clock = clock or _utc_now
        self._rng = random.Random(seed)
        self._token = token
        self._apps: dict[str, _App] = {}
        self._teams: dict[str, _Team] = {}
        self._user_ids: dict[str, str] = {}
        self._faults: list[Fault] = []
        self._malformed: list[Fault] = []
        self._latency = 0.0
        self._rate_limit_max = rate_limit
        self._refill_per_second = rate_limit_refill_per_minute / 60.0
        self._tokens = float(rate_limit)
        self._tokens_at = self._now()
        self._stale_list_etags = False
        self._frozen_etags: dict[tuple[str, str], str] = {}
        self.restart_dynos_on_release = restart_dynos_on_release
        self.accept_error = accept_error
        self._requests_by_path: dict[str, int] = {}
        self._bytes_by_path: dict[str, int] = {}
        self._requests_by_status: dict[int, int] = {}
        # Builds, slugs and output streams (`builds.py`, SPEC §14).
        self.builds = SimBuilds(self)
        self._dispatcher = Dispatcher(
            retry_delays=HEROKU_SYNC_RETRY_DELAYS
            if webhook_retry_delays is None
            else webhook_retry_delays,
            duplicate=duplicate_deliveries,
            timeout=webhook_timeout,
            stamp=lambda: self._now().isoformat(),
        )
        # Domains, SNI endpoints and Heroku's status API (SPEC §15, `heroku_sim/certs.py`).
        # Their ids come from a generator of their own: reading them changes no other id.
        cert_rng = random.Random(None if seed is None else seed + 1)
        self.certs = Certificates(
            app_ref=lambda name: self._ref(self._app(name)),
            now=self._now,
            new_id=lambda: str(uuid.UUID(int=cert_rng.getrandbits(128), version=4)),
            lock=self._lock,
        )
        self.status_page = StatusPage(now=self._now)

    # -- small helpers (call with the lock held) -------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    @staticmethod
    def _ts(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _stamp(self) -> str:
        return self._ts(self._now())

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _hex(self, digits: int) -> str:
        return f"{self._rng.getrandbits(4 * digits):0{digits}x}"

    def _user_id(self, email: str) -> str:
        if email not in self._user_ids:
            self._user_ids[email] = self._uuid()
        return self._user_ids[email]

    def _app(self, name_or_id: str) -> _App:
        app = self._apps.get(name_or_id)
        if app is None:
            app = next((a for a in self._apps.values() if a.id == name_or_id), None)
        if app is None:
            raise UnknownAppError(name_or_id)
        return app

    def _team(self, name_or_id: str) -> _Team:
        team = self._teams.get(name_or_id)
        if team is None:
            team = next((t for t in self._teams.values() if t.id == name_or_id), None)
        if team is None:
            raise UnknownResourceError("team", name_or_id)
        return team

    def _team_of(self, app: _App) -> _Team | None:
        return next((t for t in self._teams.values() if t.id == app.team_id), None)

    def _dyno(self, app: _App, name_or_id: str) -> _Dyno:
        for dyno in app.dynos:
            if name_or_id in (dyno.name, dyno.id):
                return dyno
        raise UnknownResourceError("dyno", name_or_id)

    def _addon(self, app: _App, name_or_id: str) -> _Addon:
        for addon in app.addons:
            if name_or_id in (addon.id, addon.name, addon.attachment):
                return addon
        raise UnknownResourceError("add-on", name_or_id)

    def _visible_addon(self, app: _App, name_or_id: str) -> tuple[_App, _Addon]:
        """(billing app, add-on) of an add-on of `app` or attached to it, by id, name or
        attachment name on `app`."""
        for addon in app.addons:
            if name_or_id in (addon.id, addon.name, addon.attachment):
                return app, addon
        for att in app.attachments:
            if name_or_id in (att.addon.id, att.addon.name, att.name):
                return att.owner, att.addon
        raise UnknownResourceError("add-on", name_or_id)

    @staticmethod
    def _own_attachment(owner: _App, addon: _Addon) -> _Attachment:
        """The attachment an add-on has on its billing app, made when the add-on was."""
        return _Attachment(
            id=addon.attachment_id,
            name=addon.attachment,
            addon=addon,
            owner=owner,
            created_at=addon.created_at,
            updated_at=addon.created_at,
        )

    def _attachments_on(self, app: _App) -> list[_Attachment]:
        """Every attachment on `app`: its own add-ons' first, then the foreign ones."""
        return [self._own_attachment(app, a) for a in app.addons] + list(app.attachments)

    def _attachment(self, app: _App, name_or_id: str) -> _Attachment:
        for att in self._attachments_on(app):
            if name_or_id in (att.id, att.name):
                return att
        raise UnknownResourceError("add-on attachment", name_or_id)

    def _foreign_attachments(self, addon: _Addon) -> list[tuple[_App, _Attachment]]:
        """(app, attachment) of every attachment of `addon` on an app other than its own."""
        return [
            (app, att)
            for app in self._apps.values()
            for att in app.attachments
            if att.addon is addon
        ]

    def _drop_attachment(self, app: _App, att: _Attachment, user: str) -> None:
        """Detach foreign attachment `att` from `app`, as Heroku does: the config var goes, a
        "Detach NAME (@ref:addon)" release on the current slug, `api:addon-attachment`
        destroy."""
        app.attachments.remove(att)
        app.config.pop(att.config_var, None)
        self._emit_attachment(app, "destroy", att, user)
        description = f"Detach {att.name} (@ref:{att.addon.name})"
        self._release_on_current_slug(app, description, user)

    def _release_on_current_slug(self, app: _App, description: str, user: str) -> _Release:
        """A new release of `app` on its current slug (a config var or add-on change)."""
        current = self._current(app)
        return self._new_release(app, description, user, current.slug_id if current else None)

    def _emit_attachment(self, app: _App, action: str, att: _Attachment, user: str) -> None:
        """`api:addon-attachment` `action` for attachment `att` on `app`."""
        self._emit(
            app, "api:addon-attachment", action, lambda: self._attachment_json(app, att), user
        )

    def _release(self, app: _App, version_or_id: int | str) -> _Release:
        for release in app.releases:
            if version_or_id in (release.version, release.id, str(release.version)):
                return release
        raise UnknownResourceError("release", version_or_id)

    def _current(self, app: _App) -> _Release | None:
        return next((r for r in app.releases if r.id == app.current_release_id), None)

    def _config_value(self, service: str, app_name: str) -> str:
        host = f"ec2-{self._rng.randrange(1, 255)}-{self._rng.randrange(1, 255)}"
        host += ".compute-1.amazonaws.com"
        if service == "heroku-postgresql":
            return f"postgres://u{self._hex(12)}:p{self._hex(32)}@{host}:5432/d{self._hex(12)}"
        if service == "heroku-redis":
            return f"rediss://:p{self._hex(32)}@{host}:{self._rng.randrange(10000, 30000)}"
        return f"https://{service}.example.com/{app_name}/{self._hex(16)}"

    def _attachment_name(self, app: _App, service: str) -> str:
        taken = {a.attachment for a in app.addons} | {a.name for a in app.attachments}
        taken |= set(app.config)
        primary = PRIMARY_ATTACHMENT.get(service, re.sub(r"\W", "_", service).upper())
        if primary not in taken and f"{primary}_URL" not in taken:
            return primary
        base = re.sub(r"\W", "_", service).upper()
        for colour in COLOURS:
            candidate = f"{base}_{colour}"
            if candidate not in taken and f"{candidate}_URL" not in taken:
                return candidate
        return f"{base}_{self._hex(4).upper()}"

    def _new_addon(self, app: _App, service: str, plan: str, state: str) -> _Addon:
        if not service or not plan:
            raise InvalidParamsError("An add-on needs a service and a plan.")
        if state not in ADDON_STATES:
            raise InvalidParamsError(f"Add-on state must be one of {', '.join(ADDON_STATES)}.")
        prefix = service.removeprefix("heroku-")
        name = f"{prefix}-{self._rng.choice(ADJECTIVES)}-{self._rng.randrange(10000, 99999)}"
        now = self._stamp()
        addon_id = self._uuid()
        return _Addon(
            id=addon_id,
            name=name,
            service=service,
            plan=plan if ":" in plan else f"{service}:{plan}",
            state=state,
            attachment=self._attachment_name(app, service),
            created_at=now,
            updated_at=now,
            provider_id=f"resource{self._rng.randrange(10**7, 10**8)}@heroku.com",
            # Derived from the add-on's id, not drawn from the seeded generator, so adding
            # it changed no other seeded id or name.
            attachment_id=str(uuid.uuid5(_ID_NAMESPACE, f"attachment:{addon_id}")),
        )

    def _new_release(
        self,
        app: _App,
        description: str,
        user: str,
        slug_id: str | None,
        *,
        status: str = "succeeded",
    ) -> _Release:
        if status not in ("pending", "succeeded", "failed"):
            raise InvalidParamsError("A new release is pending, succeeded or failed.")
        now = self._stamp()
        release = _Release(
            id=self._uuid(),
            version=len(app.releases) + 1,
            status=status,
            description=description,
            user_email=user,
            user_id=self._user_id(user),
            slug_id=slug_id,
            created_at=now,
            updated_at=now,
            addon_plan_names=[a.plan for a in app.addons if a.state != "deprovisioned"],
            config=dict(app.config),
            output_stream_url=None,
        )
        if status != "succeeded":  # a release phase is running or ran: it has output
            release.output_stream_url = self.builds.stream_url("releases", release.id)
        app.releases.append(release)
        app.updated_at = now  # any new release changes the app, current or not
        restarted = self._make_current(app, release) if status == "succeeded" else []
        self._emit(app, "api:release", "create", lambda: self._release_json(app, release), user)
        self._emit_dyno_updates(app, restarted)
        return release

    def _make_current(self, app: _App, release: _Release) -> list[tuple[_Dyno, str]]:
        """Release `release`: it becomes current and, as on Heroku, the dynos restart.

        Returns the restarted dynos with their state before, for the caller to announce.
        """
        newest = max((r for r in app.releases if r.status == "succeeded"), key=lambda r: r.version)
        if newest is not release:
            return []  # an older release finishing late does not replace a newer one
        app.current_release_id = release.id
        now = self._stamp()
        app.released_at = now
        app.updated_at = now
        restarted: list[tuple[_Dyno, str]] = []
        if self.restart_dynos_on_release:
            for dyno in app.dynos:
                restarted.append((dyno, dyno.state))
                dyno.id = self._uuid()
                dyno.state = "up"
                dyno.created_at = now
                dyno.updated_at = now
                dyno.release_id = release.id
                dyno.release_version = release.version
        return restarted

    # -- webhook events (call with the lock held) -------------------------------------------

    def _emit(
        self,
        app: _App,
        entity: str,
        action: str,
        render: Callable[[], Json],
        actor: str | None = None,
        previous: Json | None = None,
    ) -> None:
        """Queue event `entity`/`action` for every subscription of `app` that includes it.

        `render` gives `data` (called only when someone subscribes); `actor` is the email of
        who caused it (default: the app's owner). Nothing is sent from here: the dispatcher
        thread POSTs once the lock is released.
        """
        hooks = [h for h in app.webhooks if entity in h.include]
        if not hooks:
            return
        email = actor or app.owner_email
        now = self._stamp()
        event: Json = {
            "action": action,
            "actor": {"email": email, "id": self._user_id(email)},
            "created_at": now,
            "id": str(uuid.uuid4()),
            "data": render(),
            "previous_data": dict(previous or {}),
            "published_at": None,
            "resource": entity.removeprefix("api:"),
            "sequence": None,
            "updated_at": now,
            "version": EVENT_VERSION,
        }
        self._dispatcher.submit(
            Notification(
                delivery_id=str(uuid.uuid4()),
                webhook_id=hook.id,
                url=hook.url,
                level=hook.level,
                secret=hook.secret,
                authorization=hook.authorization,
                entity=entity,
                event=copy.deepcopy(event),
            )
            for hook in hooks
        )

    def _emit_dyno(self, app: _App, dyno: _Dyno, action: str, old_state: str | None) -> None:
        previous = {"state": old_state} if old_state not in (None, dyno.state) else {}
        self._emit(app, "dyno", action, lambda: self._dyno_json(app, dyno), previous=previous)

    def _emit_dyno_updates(self, app: _App, changed: Iterable[tuple[_Dyno, str]]) -> None:
        for dyno, old_state in changed:
            self._emit_dyno(app, dyno, "update", old_state)

    def _add_dynos(self, app: _App, process_type: str, quantity: int) -> list[_Dyno]:
        current = self._current(app)
        added: list[_Dyno] = []
        now = self._stamp()
        existing = [d for d in app.dynos if d.type == process_type]
        numbers = [int(d.name.rsplit(".", 1)[1]) for d in existing]
        for number in range(max(numbers, default=0) + 1, max(numbers, default=0) + 1 + quantity):
            added.append(
                _Dyno(
                    id=self._uuid(),
                    name=f"{process_type}.{number}",
                    type=process_type,
                    state="up",
                    command=app.formation[process_type].command,
                    created_at=now,
                    updated_at=now,
                    release_id=current.id if current else "",
                    release_version=current.version if current else 0,
                )
            )
        app.dynos.extend(added)
        return added

    # -- apps --------------------------------------------------------------------------------

    def create_app(
        self,
        name: str,
        *,
        dynos: Mapping[str, int] | None = None,
        config: Mapping[str, str] | None = None,
        addons: Sequence[tuple[str, str]] | None = None,
        releases: int = 3,
        owner: str = DEFAULT_USER,
        team: str | None = None,
    ) -> None:
        """Create app `name` with dynos `up`, add-ons `provisioned` and `releases` releases.

        Defaults: `web: 2, worker: 1`; a Heroku Postgres add-on (so `DATABASE_URL`), plus
        `LANG` and `SECRET_KEY`. v1 is "Initial release" with no slug, as on Heroku; later
        ones are "Deploy <sha>" releases an hour apart, the newest current and a day old.
        `team` (a team's name or id, see `create_team`) puts the app in that team.
        Raises InvalidParamsError for a name Heroku would refuse, ConflictError if taken,
        UnknownResourceError for an unknown team.
        """
        if not APP_NAME.match(name):
            raise InvalidParamsError(
                f"{name!r} is not a valid Heroku app name (lower-case letter first, then "
                "letters, digits and dashes, 3 to 30 characters)."
            )
        if releases < 1:
            raise InvalidParamsError("An app has at least one release.")
        dyno_counts = dict(DEFAULT_DYNOS if dynos is None else dynos)
        if any(q < 0 for q in dyno_counts.values()):
            raise InvalidParamsError("Dyno quantities cannot be negative.")
        with self._lock:
            if name in self._apps:
                raise ConflictError(f"Name {name!r} is already taken.")
            team_id = self._team(team).id if team is not None else None
            # The app was made, and last deployed, a day ago: an app someone starts to watch
            # is rarely one deployed this very minute (a deploy made in a test is fresh).
            now = self._now() - SEED_AGE
            first = self._ts(now - timedelta(hours=releases - 1))
            app = _App(
                id=self._uuid(),
                name=name,
                owner_email=owner,
                owner_id=self._user_id(owner),
                created_at=first,
                updated_at=first,
                released_at=None,
                web_url=f"https://{name}-{self._hex(12)}.herokuapp.com/",
                team_id=team_id,
            )
            app.config = {"LANG": "en_US.UTF-8", "SECRET_KEY": self._hex(64)}
            for service, plan in DEFAULT_ADDONS if addons is None else addons:
                addon = self._new_addon(app, service, plan, "provisioned")
                addon.created_at = addon.updated_at = first
                app.addons.append(addon)
                app.config[addon.config_var] = self._config_value(service, name)
            app.config.update(config or {})
            for process_type, quantity in dyno_counts.items():
                app.formation[process_type] = _Formation(
                    id=self._uuid(),
                    type=process_type,
                    command=COMMANDS.get(process_type, f"bin/{process_type}"),
                    quantity=quantity,
                    created_at=first,
                    updated_at=first,
                )
            for version in range(1, releases + 1):
                at = self._ts(now - timedelta(hours=releases - version))
                initial = version == 1
                release = _Release(
                    id=self._uuid(),
                    version=version,
                    status="succeeded",
                    description="Initial release" if initial else f"Deploy {self._hex(7)}",
                    user_email=owner,
                    user_id=app.owner_id,
                    slug_id=None if initial else self._uuid(),
                    created_at=at,
                    updated_at=at,
                    addon_plan_names=[a.plan for a in app.addons],
                    config=dict(app.config),
                    output_stream_url=None,
                )
                app.releases.append(release)
            app.current_release_id = app.releases[-1].id
            app.released_at = app.updated_at = app.releases[-1].created_at
            for process_type, quantity in dyno_counts.items():
                self._add_dynos(app, process_type, quantity)
            self._apps[name] = app

    def app_names(self) -> list[str]:
        """Names of every simulated app, in creation order."""
        with self._lock:
            return list(self._apps)

    def delete_app(self, app: str) -> Json:
        """Delete app `app` (name or id) and everything of it (dynos, releases, add-ons,
        config vars, webhooks, drains), as `DELETE /apps/{app}`; returns the app as it was.

        Its webhook subscriptions go too: what was still queued for them is dropped and no
        later event is sent. The name is free again. Its add-ons are detached from every
        other app they were attached to (config var unset, a "Detach" release by the app's
        owner, `api:addon-attachment` destroy); attachments of other apps' add-ons to it go
        with it. Raises UnknownAppError.
        """
        with self._lock:
            target = self._app(app)
            rendered = self._app_json(target)
            del self._apps[target.name]
            self.certs.forget(target.name)
            for hook in target.webhooks:
                self._dispatcher.discard(hook.id)
            target.webhooks.clear()
            target.attachments.clear()
            for addon in target.addons:
                for other, att in self._foreign_attachments(addon):
                    self._drop_attachment(other, att, target.owner_email)
            return rendered

    # -- teams -------------------------------------------------------------------------------

    def create_team(self, name: str) -> Json:
        """Create team `name` (lower-case letters, digits and dashes, e.g. "acme"); returns
        `{"id", "name", "created_at", "updated_at"}`. The id depends on the name only, so it
        is the same on every run. Raises InvalidParamsError, ConflictError (name taken).
        """
        if not TEAM_NAME.match(name or ""):
            raise InvalidParamsError(
                f"{name!r} is not a valid team name (lower-case letters, digits and dashes, "
                "starting with a letter or digit)."
            )
        with self._lock:
            if name in self._teams:
                raise ConflictError(f"Name {name!r} is already taken.")
            now = self._stamp()
            team = _Team(id=_stable_id("team", name), name=name, created_at=now, updated_at=now)
            self._teams[name] = team
            return self._team_json(team)

    def team_names(self) -> list[str]:
        """Names of every simulated team, in creation order."""
        with self._lock:
            return list(self._teams)

    def move_app(self, app: str, team: str | None) -> None:
        """Transfer `app` into `team` (a team's name or id), or out of its team with None.

        Bumps the app's `updated_at`; a real move also sends `api:app` update with
        previous_data `{"team": old}`. Raises UnknownAppError, UnknownResourceError (team).
        """
        with self._lock:
            target = self._app(app)
            team_id = self._team(team).id if team is not None else None
            before = self._team_ref(self._team_of(target))
            target.team_id = team_id
            target.updated_at = self._stamp()
            if team_id != (before or {}).get("id"):
                self._emit(
                    target,
                    "api:app",
                    "update",
                    lambda: self._app_json(target),
                    previous={"team": before},
                )

    def set_maintenance(self, app: str, on: bool) -> None:
        """Switch maintenance mode; bumps the app's `updated_at`. Raises UnknownAppError."""
        with self._lock:
            target = self._app(app)
            before = target.maintenance
            target.maintenance = bool(on)
            target.updated_at = self._stamp()
            if target.maintenance != before:
                self._emit(
                    target,
                    "api:app",
                    "update",
                    lambda: self._app_json(target),
                    previous={"maintenance": before},
                )

    # -- dynos and formation ---------------------------------------------------------------

    def set_dyno_state(self, app: str, name: str, state: str) -> None:
        """Put dyno `name` (or id) in `state` (up, starting, idle, crashed, down).

        Raises UnknownAppError, UnknownResourceError, InvalidParamsError.
        """
        if state not in DYNO_STATES:
            raise InvalidParamsError(f"Dyno state must be one of {', '.join(DYNO_STATES)}.")
        with self._lock:
            target = self._app(app)
            dyno = self._dyno(target, name)
            before = dyno.state
            dyno.state = state
            dyno.updated_at = self._stamp()
            if state != before:
                self._emit_dyno(target, dyno, "update", before)

    def crash_dyno(self, app: str, name: str) -> None:
        """Dyno `name` is now `crashed`. Raises UnknownAppError, UnknownResourceError."""
        self.set_dyno_state(app, name, "crashed")

    def stop_dyno(self, app: str, name: str) -> None:
        """Dyno `name` is now `down`. Raises UnknownAppError, UnknownResourceError."""
        self.set_dyno_state(app, name, "down")

    def start_dyno(self, app: str, name: str) -> None:
        """Dyno `name` is now `up`. Raises UnknownAppError, UnknownResourceError."""
        self.set_dyno_state(app, name, "up")

    def restart_dyno(self, app: str, name: str) -> None:
        """Replace dyno `name` by a new one (new id) in state `starting`.

        This is what daily dyno cycling looks like through the API.
        Raises UnknownAppError, UnknownResourceError.
        """
        with self._lock:
            target = self._app(app)
            dyno = self._dyno(target, name)
            before = dyno.state
            now = self._stamp()
            dyno.id = self._uuid()
            dyno.state = "starting"
            dyno.created_at = now
            dyno.updated_at = now
            self._emit_dyno(target, dyno, "update", before)

    def scale(self, app: str, process_type: str, quantity: int) -> None:
        """Scale `process_type` to `quantity` dynos. Removed dynos vanish; none goes `down`.

        A new process type gets a formation entry. Raises UnknownAppError, InvalidParamsError.
        """
        if quantity < 0 or not re.match(r"^[-\w]{1,128}$", process_type):
            raise InvalidParamsError("Scale a valid process type to zero or more dynos.")
        with self._lock:
            target = self._app(app)
            now = self._stamp()
            formation = target.formation.get(process_type)
            if formation is None:
                formation = _Formation(
                    id=self._uuid(),
                    type=process_type,
                    command=COMMANDS.get(process_type, f"bin/{process_type}"),
                    quantity=0,
                    created_at=now,
                    updated_at=now,
                )
                target.formation[process_type] = formation
            existing = [d for d in target.dynos if d.type == process_type]
            added: list[_Dyno] = []
            removed: list[_Dyno] = []
            if quantity > len(existing):
                added = self._add_dynos(target, process_type, quantity - len(existing))
            else:
                keep = sorted(existing, key=lambda d: int(d.name.rsplit(".", 1)[1]))[:quantity]
                removed = [d for d in existing if d not in keep]
                target.dynos = [d for d in target.dynos if d.type != process_type or d in keep]
            before = formation.quantity
            formation.quantity = quantity
            formation.updated_at = now
            if quantity != before:
                self._emit(
                    target,
                    "api:formation",
                    "update",
                    lambda: self._formation_json(target, formation),
                    previous={"quantity": before},
                )
            for dyno in added:
                self._emit_dyno(target, dyno, "create", None)
            for dyno in removed:
                self._emit_dyno(target, dyno, "destroy", None)

    # -- releases ----------------------------------------------------------------------------

    def deploy(self, app: str, user: str = DEFAULT_USER, *, status: str = "succeeded") -> int:
        """New "Deploy <sha>" release with a new slug; returns its version.

        `status="pending"` models a release phase still running (finish it with
        `finish_release`); `"failed"` a release phase that failed.
        Raises UnknownAppError, InvalidParamsError.
        """
        with self._lock:
            target = self._app(app)
            release = self._new_release(
                target, f"Deploy {self._hex(7)}", user, self._uuid(), status=status
            )
            return release.version

    def finish_release(self, app: str, version: int, status: str = "succeeded") -> None:
        """End the release phase of pending release `version` as succeeded or failed.

        Raises UnknownAppError, UnknownResourceError, InvalidParamsError (not pending, or
        a status other than succeeded / failed).
        """
        if status not in ("succeeded", "failed"):
            raise InvalidParamsError("A release phase ends succeeded or failed.")
        with self._lock:
            target = self._app(app)
            release = self._release(target, version)
            if release.status != "pending":
                raise InvalidParamsError(f"v{version} is {release.status}, not pending.")
            release.status = status
            release.updated_at = target.updated_at = self._stamp()
            restarted = self._make_current(target, release) if status == "succeeded" else []
            self._emit(
                target,
                "api:release",
                "update",
                lambda: self._release_json(target, release),
                release.user_email,
                previous={"status": "pending"},
            )
            self._emit_dyno_updates(target, restarted)

    def rollback(self, app: str, to_version: int, user: str = DEFAULT_USER) -> int:
        """New "Rollback to v{N}" release with v{N}'s slug and config vars; returns its version.

        Add-on managed config vars keep their current values (add-ons are not rolled back).
        Raises UnknownAppError, UnknownResourceError, InvalidParamsError (not succeeded).
        """
        with self._lock:
            target = self._app(app)
            old = self._release(target, to_version)
            if old.status != "succeeded":
                raise InvalidParamsError(f"v{to_version} is {old.status}; cannot roll back to it.")
            managed = {a.config_var for a in target.addons}
            managed |= {a.config_var for a in target.attachments}
            restored = {k: v for k, v in old.config.items() if k not in managed}
            restored.update({k: v for k, v in target.config.items() if k in managed})
            target.config = restored
            release = self._new_release(target, f"Rollback to v{old.version}", user, old.slug_id)
            return release.version

    # -- config vars -------------------------------------------------------------------------

    def set_config(self, app: str, values: Mapping[str, str], user: str = DEFAULT_USER) -> int:
        """Set config vars; creates a "Set A, B config vars" release on the current slug.

        Returns the new version. Raises UnknownAppError, InvalidParamsError.
        """
        if not values or any(not CONFIG_VAR_NAME.match(k) for k in values):
            raise InvalidParamsError("Set at least one config var; names are letters, digits, _.")
        if any(not isinstance(v, str) for v in values.values()):
            raise InvalidParamsError("Config var values are strings.")
        with self._lock:
            target = self._app(app)
            target.config.update(values)
            description = f"Set {', '.join(values)} config vars"
            return self._release_on_current_slug(target, description, user).version

    def unset_config(self, app: str, names: Iterable[str], user: str = DEFAULT_USER) -> int:
        """Remove config vars; creates a "Remove A config vars" release on the current slug.

        Returns the new version. Raises UnknownAppError, InvalidParamsError (none is set).
        """
        wanted = list(dict.fromkeys(names))
        with self._lock:
            target = self._app(app)
            present = [n for n in wanted if n in target.config]
            if not present:
                raise InvalidParamsError("None of those config vars is set.")
            for name in present:
                del target.config[name]
            description = f"Remove {', '.join(present)} config vars"
            return self._release_on_current_slug(target, description, user).version

    # -- add-ons -----------------------------------------------------------------------------

    def add_addon(
        self,
        app: str,
        service: str,
        plan: str,
        *,
        state: str = "provisioning",
        user: str = DEFAULT_USER,
    ) -> str:
        """Attach a new add-on; returns its id.

        Like Heroku it sets the add-on's config var (e.g. `REDIS_URL`) and creates an
        "Attach REDIS (@ref:redis-curly-12345)" release on the current slug.
        Raises UnknownAppError, InvalidParamsError.
        """
        with self._lock:
            target = self._app(app)
            addon = self._new_addon(target, service, plan, state)
            target.addons.append(addon)
            target.config[addon.config_var] = self._config_value(service, target.name)
            self._emit(target, "api:addon", "create", lambda: self._addon_json(target, addon), user)
            own = self._own_attachment(target, addon)
            self._emit_attachment(target, "create", own, user)
            description = f"Attach {addon.attachment} (@ref:{addon.name})"
            self._release_on_current_slug(target, description, user)
            return addon.id

    def set_addon_state(
        self, app: str, addon: str, state: str, *, user: str = DEFAULT_USER
    ) -> None:
        """Put add-on `addon` (id, name or attachment) in `state`.

        provisioning -> provisioned also does what Heroku does when an add-on finishes
        provisioning: a new value for its config var and a release "@ref:<name> completed
        provisioning, setting <VAR>.", on its billing app and on every app it is attached
        to (same value, each under its attachment's name). Raises UnknownAppError,
        UnknownResourceError, InvalidParamsError.
        """
        if state not in ADDON_STATES:
            raise InvalidParamsError(f"Add-on state must be one of {', '.join(ADDON_STATES)}.")
        with self._lock:
            target = self._app(app)
            found = self._addon(target, addon)
            previous, found.state = found.state, state
            found.updated_at = self._stamp()
            if state != previous:
                self._emit(
                    target,
                    "api:addon",
                    "update",
                    lambda: self._addon_json(target, found),
                    user,
                    previous={"state": previous},
                )
            if previous == "provisioning" and state == "provisioned":
                target.config[found.config_var] = self._config_value(found.service, target.name)
                description = (
                    f"@ref:{found.name} completed provisioning, setting {found.config_var}."
                )
                self._release_on_current_slug(target, description, user)
                for other, att in self._foreign_attachments(found):
                    other.config[att.config_var] = target.config[found.config_var]
                    description = (
                        f"@ref:{found.name} completed provisioning, setting {att.config_var}."
                    )
                    self._release_on_current_slug(other, description, user)

    def remove_addon(self, app: str, addon: str, *, user: str = DEFAULT_USER) -> None:
        """Remove add-on `addon` (id, name or attachment) of its billing app `app`, unset
        its config var, and create a "Detach <ATTACHMENT> (@ref:<name>)" release.

        It is detached from every other app it was attached to as well (each: config var
        unset, a "Detach" release, `api:addon-attachment` destroy).
        Raises UnknownAppError, UnknownResourceError.
        """
        with self._lock:
            target = self._app(app)
            found = self._addon(target, addon)
            own = self._own_attachment(target, found)
            target.addons.remove(found)
            target.config.pop(found.config_var, None)
            found.state = "deprovisioned"
            found.updated_at = self._stamp()
            self._emit_attachment(target, "destroy", own, user)
            self._emit(
                target, "api:addon", "destroy", lambda: self._addon_json(target, found), user
            )
            description = f"Detach {found.attachment} (@ref:{found.name})"
            self._release_on_current_slug(target, description, user)
            for other, att in self._foreign_attachments(found):
                self._drop_attachment(other, att, user)

    # -- add-on attachments (https://devcenter.heroku.com/articles/managing-add-ons) ------

    def attach_addon(
        self,
        app: str,
        addon: str,
        to_app: str,
        *,
        name: str | None = None,
        user: str = DEFAULT_USER,
    ) -> str:
        """Attach add-on `addon` (id, name or attachment name) of its billing app `app` to
        another app `to_app`, as `POST /addon-attachments` ("heroku addons:attach"); returns
        the new attachment's id.

        Like Heroku: `to_app` gets the add-on's config var under the attachment's name
        (`{NAME}_URL`, the same value as on `app`), an "Attach NAME (@ref:<addon>)" release
        on its current slug, and `api:addon-attachment` create. `name` defaults to what a
        new add-on of that service would be called on `to_app` (DATABASE, or a colour when
        taken). Raises UnknownAppError, UnknownResourceError, InvalidParamsError (its own
        app, a deprovisioned add-on, a bad or taken name).
        """
        if name is not None and not ATTACHMENT_NAME.match(name):
            raise InvalidParamsError(
                "Name must start with a letter and can only contain uppercase letters, "
                "numbers, and underscores."
            )
        with self._lock:
            owner = self._app(app)
            found = self._addon(owner, addon)
            target = self._app(to_app)
            if target is owner:
                raise InvalidParamsError(
                    f"{found.name} is already attached to {owner.name}, its billing app."
                )
            if found.state == "deprovisioned":
                raise InvalidParamsError(f"{found.name} is deprovisioned; it cannot be attached.")
            chosen = name if name is not None else self._attachment_name(target, found.service)
            taken = {a.name for a in self._attachments_on(target)}
            if chosen in taken:
                raise InvalidParamsError(f"Name {chosen} is already taken on {target.name}.")
            if f"{chosen}_URL" in target.config:
                raise InvalidParamsError(
                    f"Config var {chosen}_URL is already set on {target.name}."
                )
            now = self._stamp()
            att = _Attachment(
                id=self._uuid(),
                name=chosen,
                addon=found,
                owner=owner,
                created_at=now,
                updated_at=now,
            )
            target.attachments.append(att)
            value = owner.config.get(found.config_var)
            if value is None:  # someone unset it on the billing app: the add-on still has one
                value = self._config_value(found.service, owner.name)
            target.config[att.config_var] = value
            self._emit_attachment(target, "create", att, user)
            description = f"Attach {att.name} (@ref:{found.name})"
            self._release_on_current_slug(target, description, user)
            return att.id

    def detach_addon(self, app: str, attachment: str, *, user: str = DEFAULT_USER) -> None:
        """Remove attachment `attachment` (id or name) of another app's add-on from `app`, as
        `DELETE /addon-attachments/{id}` ("heroku addons:detach"): its config var goes, a
        "Detach NAME (@ref:<addon>)" release on the current slug, `api:addon-attachment`
        destroy. Raises UnknownAppError, UnknownResourceError, InvalidParamsError (an
        add-on's own attachment on its billing app: remove the add-on instead).
        """
        with self._lock:
            target = self._app(app)
            att = self._attachment(target, attachment)
            if att not in target.attachments:
                raise InvalidParamsError(
                    f"{att.name} is the attachment of {att.addon.name} to its billing app "
                    f"{target.name}; remove the add-on instead."
                )
            self._drop_attachment(target, att, user)

    # -- app webhooks ------------------------------------------------------------------------

    def create_webhook(
        self,
        app: str,
        *,
        include: Sequence[str],
        level: str,
        url: str,
        secret: str | None = None,
        authorization: str | None = None,
    ) -> Json:
        """Store an app webhook subscription; returns it as the API renders it (no secret).

        Raises UnknownAppError, InvalidParamsError, ConflictError (same URL twice).
        """
        _check_webhook(include, level, url)
        with self._lock:
            target = self._app(app)
            if any(w.url == url for w in target.webhooks):
                raise ConflictError(WEBHOOK_CONFLICT)
            now = self._stamp()
            hook = _Webhook(
                id=self._uuid(),
                include=list(dict.fromkeys(include)),
                level=level,
                url=url,
                secret=secret,
                authorization=authorization,
                created_at=now,
                updated_at=now,
            )
            target.webhooks.append(hook)
            return self._webhook_json(target, hook)

    def update_webhook(
        self,
        app: str,
        webhook_id: str,
        *,
        include: Sequence[str] | None = None,
        level: str | None = None,
        url: str | None = None,
        secret: str | Keep | None = KEEP,
        authorization: str | Keep | None = KEEP,
    ) -> Json:
        """`PATCH /apps/{app}/webhooks/{id}`: change what is given (`KEEP` or None keeps
        it; secret and authorization can be set to None). Deliveries of later events use
        the new values. Raises UnknownApp/UnknownResourceError, InvalidParamsError,
        ConflictError (another webhook of the app has that URL)."""
        with self._lock:
            target = self._app(app)
            hook = next((w for w in target.webhooks if w.id == webhook_id), None)
            if hook is None:
                raise UnknownResourceError("webhook", webhook_id)
            include = list(hook.include) if include is None else include
            level = hook.level if level is None else level
            url = hook.url if url is None else url
            _check_webhook(include, level, url)
            if any(w.url == url and w is not hook for w in target.webhooks):
                raise ConflictError(WEBHOOK_CONFLICT)
            hook.include, hook.level, hook.url = list(dict.fromkeys(include)), level, url
            if not isinstance(secret, Keep):
                hook.secret = secret
            if not isinstance(authorization, Keep):
                hook.authorization = authorization
            hook.updated_at = self._stamp()
            return self._webhook_json(target, hook)

    def delete_webhook(self, app: str, webhook_id: str) -> Json:
        """Remove a webhook subscription; returns it. Raises UnknownApp/UnknownResourceError."""
        with self._lock:
            target = self._app(app)
            hook = next((w for w in target.webhooks if w.id == webhook_id), None)
            if hook is None:
                raise UnknownResourceError("webhook", webhook_id)
            target.webhooks.remove(hook)
            self._dispatcher.discard(hook.id)
            return self._webhook_json(target, hook)

    # -- log drains (https://devcenter.heroku.com/articles/platform-api-reference#log-drain) --

    def create_log_drain(self, app: str, url: str) -> Json:
        """Add a log drain to `app`; returns it as the API renders it, with the token Heroku
        makes (`d.<uuid>`). Raises UnknownAppError, InvalidParamsError (a URL twice, as
        Heroku: "Url has already been taken")."""
        if not url.startswith(("https://", "http://", "syslog://", "syslog+tls://")):
            raise InvalidParamsError("Url is invalid.")
        with self._lock:
            target = self._app(app)
            if any(d.url == url for d in target.log_drains):
                raise InvalidParamsError("Url has already been taken")
            now = self._stamp()
            drain = _LogDrain(self._uuid(), url, f"d.{self._uuid()}", now, now)
            target.log_drains.append(drain)
            return self._log_drain_json(target, drain)

    def log_drains_json(self, app: str) -> list[Json]:
        with self._lock:
            target = self._app(app)
            return [self._log_drain_json(target, d) for d in target.log_drains]

    def delete_log_drain(self, app: str, drain_id_or_url: str) -> Json:
        """Remove a drain by id or URL; returns it. Raises UnknownApp/UnknownResourceError."""
        with self._lock:
            target = self._app(app)
            drain = next((d for d in target.log_drains if drain_id_or_url in (d.id, d.url)), None)
            if drain is None:
                raise UnknownResourceError("log-drain", drain_id_or_url)
            target.log_drains.remove(drain)
            return self._log_drain_json(target, drain)

    def add_telemetry_drain(self, app: str, url: str, headers: Mapping[str, str]) -> None:
        """A Fir telemetry drain for the app's logs (`heroku telemetry:add URL --headers`)."""
        with self._lock:
            self._app(app).telemetry_drains.append((url, dict(headers)))

    def write_logs(self, app: str, lines: Sequence[tuple[str, str]]) -> list[int]:
        """The app writes `lines` ((procid, message) pairs, as Heroku's router or runtime
        would): one Logplex batch to each log drain, one OTLP request to each telemetry
        drain; returns their HTTP statuses."""
        from heroku_sim.logs import otlp_logs_json, post_batch, post_otlp

        with self._lock:
            target = self._app(app)
            drains = [(d.url, d.token) for d in target.log_drains]
            telemetry = list(target.telemetry_drains)
            app_id = target.id
        statuses = [post_batch(url, token, lines) for url, token in drains]
        body = otlp_logs_json(app, app_id, lines)
        return statuses + [post_otlp(url, headers, body) for url, headers in telemetry]

    def _log_drain_json(self, app: _App, drain: _LogDrain) -> Json:
        return {
            "addon": None,
            "app": self._ref(app),
            "created_at": drain.created_at,
            "id": drain.id,
            "token": drain.token,
            "updated_at": drain.updated_at,
            "url": drain.url,
        }

    def webhooks(self, app: str) -> list[Json]:
        """Stored subscriptions of `app`, secret and authorization included (not API shape)."""
        with self._lock:
            target = self._app(app)
            return [
                {
                    "id": w.id,
                    "include": list(w.include),
                    "level": w.level,
                    "url": w.url,
                    "secret": w.secret,
                    "authorization": w.authorization,
                    "created_at": w.created_at,
                    "updated_at": w.updated_at,
                }
                for w in target.webhooks
            ]

    # -- webhook deliveries ------------------------------------------------------------------

    @property
    def deliveries(self) -> list[Json]:
        """Every delivery attempt so far, oldest first: `delivery_id`, `event_id`,
        `webhook_id`, `entity`, `resource`, `action`, `level`, `url`, `attempt` (1, 2...),
        `status` (HTTP code, or None), `error` (None, or why no answer came), `ok` (2xx),
        `duplicate` (the extra copy `duplicate_deliveries` sends) and `at`."""
        return self._dispatcher.records()

    def wait_for_deliveries(self, count: int, timeout: float = 5.0, **match: Any) -> list[Json]:
        """Block until `count` delivery attempts matching `match` (e.g. `entity="dyno"`,
        `ok=True`) were made; returns them. Raises AssertionError listing every attempt
        made so far when `timeout` seconds pass first."""
        return self._dispatcher.wait_for(count, timeout, match)

    def pause_deliveries(self) -> None:
        """Hold every webhook delivery (they keep queueing) until `resume_deliveries()`."""
        self._dispatcher.pause()

    def resume_deliveries(self) -> None:
        """Send what `pause_deliveries()` held, in order."""
        self._dispatcher.resume()

    @property
    def pending_deliveries(self) -> int:
        """Notifications queued, waiting for a retry, or paused."""
        return self._dispatcher.pending

    @property
    def delivering(self) -> bool:
        """True while the webhook delivery thread runs."""
        return self._dispatcher.running

    def close(self) -> None:
        """Stop the webhook delivery thread, dropping undelivered notifications. The model
        stays usable; a later notification starts a new thread. Idempotent."""
        self._dispatcher.close()

    # -- rendering (the Platform API's JSON shapes) ----------------------------------------

    @staticmethod
    def _ref(app: _App) -> Json:
        return {"id": app.id, "name": app.name}

    @staticmethod
    def _team_ref(team: _Team | None) -> Json | None:
        return {"id": team.id, "name": team.name} if team else None

    @staticmethod
    def _team_json(team: _Team) -> Json:
        return {
            "id": team.id,
            "name": team.name,
            "created_at": team.created_at,
            "updated_at": team.updated_at,
        }

    def _app_json(self, app: _App) -> Json:
        stack = {"id": _stable_id("stack", "heroku-24"), "name": "heroku-24"}
        current = self._current(app)
        return {
            "acm": False,
            "archived_at": None,
            "buildpack_provided_description": "Python",
            "build_stack": dict(stack),
            "created_at": app.created_at,
            "generation": {"id": _stable_id("generation", "cedar"), "name": "cedar"},
            "git_url": f"https://git.heroku.com/{app.name}.git",
            "id": app.id,
            "internal_routing": None,
            "maintenance": app.maintenance,
            "name": app.name,
            "owner": {"email": app.owner_email, "id": app.owner_id},
            # `organization` is the deprecated name of `team`; Heroku still fills both.
            "organization": self._team_ref(self._team_of(app)),
            "team": self._team_ref(self._team_of(app)),
            "region": {"id": _stable_id("region", "us"), "name": "us"},
            "released_at": app.released_at,
            "repo_size": None,
            "slug_size": 52_428_800 if current and current.slug_id else None,
            "space": None,
            "stack": dict(stack),
            "updated_at": app.updated_at,
            "web_url": app.web_url,
        }

    def _team_app_json(self, app: _App) -> Json:
        """The `team-app` resource: exactly the properties of the schema's `team-app`
        definition (heroku/platform-api schema.json), where `team` is `{"name"}` only."""
        full = self._app_json(app)
        team = self._team_of(app)
        return {
            "archived_at": full["archived_at"],
            "buildpack_provided_description": full["buildpack_provided_description"],
            "build_stack": full["build_stack"],
            "created_at": full["created_at"],
            "git_url": full["git_url"],
            "id": full["id"],
            "internal_routing": full["internal_routing"],
            # The simulated account is no collaborator of team apps and locks none of them
            # (both are the schema's defaults).
            "joined": False,
            "locked": False,
            "maintenance": full["maintenance"],
            "name": full["name"],
            "owner": full["owner"],
            "region": full["region"],
            "released_at": full["released_at"],
            "repo_size": full["repo_size"],
            "slug_size": full["slug_size"],
            "space": full["space"],
            "stack": full["stack"],
            "team": {"name": team.name} if team else None,
            "updated_at": full["updated_at"],
            "web_url": full["web_url"],
        }

    def _dyno_json(self, app: _App, dyno: _Dyno) -> Json:
        return {
            "attach_url": None,
            "command": dyno.command,
            "created_at": dyno.created_at,
            "id": dyno.id,
            "name": dyno.name,
            "release": {"id": dyno.release_id, "version": dyno.release_version},
            "app": self._ref(app),
            "size": dyno.size,
            "state": dyno.state,
            "type": dyno.type,
            "updated_at": dyno.updated_at,
        }

    def _release_json(self, app: _App, release: _Release) -> Json:
        slug = {"id": release.slug_id} if release.slug_id else None
        return {
            "addon_plan_names": list(release.addon_plan_names),
            "artifacts": [{"type": "slug", "id": release.slug_id}] if release.slug_id else [],
            "app": self._ref(app),
            "created_at": release.created_at,
            "description": release.description,
            "id": release.id,
            "updated_at": release.updated_at,
            "slug": slug,
            "status": release.status,
            "user": {"id": release.user_id, "email": release.user_email},
            "version": release.version,
            "current": release.id == app.current_release_id,
            "output_stream_url": release.output_stream_url,
            "eligible_for_rollback": release.status == "succeeded",
        }

    def _addon_json(self, app: _App, addon: _Addon) -> Json:
        return {
            "actions": [],
            "addon_service": {"id": _stable_id("service", addon.service), "name": addon.service},
            "billing_entity": {"id": app.id, "name": app.name, "type": "app"},
            "app": self._ref(app),
            "billed_price": {
                "cents": PLAN_CENTS.get(addon.plan.split(":", 1)[-1], 0),
                "contract": False,
                "unit": "month",
            },
            "config_vars": [addon.config_var],
            "created_at": addon.created_at,
            "id": addon.id,
            "name": addon.name,
            "plan": {"id": _stable_id("plan", addon.plan), "name": addon.plan},
            "provider_id": addon.provider_id,
            "provision_message": None,
            "state": addon.state,
            "updated_at": addon.updated_at,
            "web_url": f"https://addons-sso.heroku.com/apps/{app.id}/addons/{addon.id}",
        }

    def _attachment_json(self, app: _App, att: _Attachment) -> Json:
        """The schema's `add-on-attachment`: `app` the app it is on, `addon.app` the add-on's
        billing app."""
        return {
            "addon": {"id": att.addon.id, "name": att.addon.name, "app": self._ref(att.owner)},
            "app": self._ref(app),
            "created_at": att.created_at,
            "id": att.id,
            "log_input_url": None,
            "name": att.name,
            "namespace": None,
            "updated_at": att.updated_at,
            "web_url": f"https://addons-sso.heroku.com/apps/{app.id}/addons/{att.addon.id}",
        }

    def _formation_json(self, app: _App, formation: _Formation) -> Json:
        return {
            "app": {"name": app.name, "id": app.id},
            "command": formation.command,
            "created_at": formation.created_at,
            "dyno_size": {"id": _stable_id("dyno-size", formation.size), "name": formation.size},
            "id": formation.id,
            "quantity": formation.quantity,
            "size": formation.size,
            "type": formation.type,
            "updated_at": formation.updated_at,
        }

    def _webhook_json(self, app: _App, hook: _Webhook) -> Json:
        return {
            "app": self._ref(app),
            "created_at": hook.created_at,
            "id": hook.id,
            "include": list(hook.include),
            "level": hook.level,
            "updated_at": hook.updated_at,
            "url": hook.url,
        }

    # -- reads used by the HTTP layer (fresh copies, safe to mutate) ------------------------

    def apps_json(self) -> list[Json]:
        """Every app as `GET /apps` renders it."""
        with self._lock:
            return [self._app_json(a) for a in self._apps.values()]

    def app_json(self, app: str) -> Json:
        """`GET /apps/{app}`. Raises UnknownAppError."""
        with self._lock:
            return self._app_json(self._app(app))

    def team_apps_json(self, team: str) -> list[Json]:
        """`GET /teams/{team_name_or_id}/apps`: the team's apps as `team-app` resources.

        Raises UnknownResourceError (resource "team") for an unknown team.
        """
        with self._lock:
            found = self._team(team)
            return [self._team_app_json(a) for a in self._apps.values() if a.team_id == found.id]

    def all_addons_json(self) -> list[Json]:
        """`GET /addons`: every add-on of every app of the account, each with its `app`."""
        with self._lock:
            return [self._addon_json(a, addon) for a in self._apps.values() for addon in a.addons]

    def dynos_json(self, app: str) -> list[Json]:
        """`GET /apps/{app}/dynos`. Raises UnknownAppError."""
        with self._lock:
            target = self._app(app)
            return [self._dyno_json(target, d) for d in target.dynos]

    def dyno_json(self, app: str, name: str) -> Json:
        """`GET /apps/{app}/dynos/{name_or_id}`. Raises UnknownApp/UnknownResourceError."""
        with self._lock:
            target = self._app(app)
            return self._dyno_json(target, self._dyno(target, name))

    def releases_json(self, app: str) -> list[Json]:
        """`GET /apps/{app}/releases`. Raises UnknownAppError."""
        with self._lock:
            target = self._app(app)
            return [self._release_json(target, r) for r in target.releases]

    def release_json(self, app: str, version_or_id: int | str) -> Json:
        """`GET /apps/{app}/releases/{version_or_id}`. Raises UnknownApp/UnknownResourceError."""
        with self._lock:
            target = self._app(app)
            return self._release_json(target, self._release(target, version_or_id))

    def addons_json(self, app: str) -> list[Json]:
        """`GET /apps/{app}/addons`: the app's own add-ons, then those of other apps attached
        to it (once each), rendered as their billing app shows them (`app` and
        `billing_entity` the billing app). Raises UnknownAppError."""
        with self._lock:
            target = self._app(app)
            listed = [self._addon_json(target, a) for a in target.addons]
            seen = {a.id for a in target.addons}
            for att in target.attachments:
                if att.addon.id not in seen:
                    seen.add(att.addon.id)
                    listed.append(self._addon_json(att.owner, att.addon))
            return listed

    def addon_json(self, app: str, addon: str) -> Json:
        """`GET /apps/{app}/addons/{id_or_name}`, an add-on of the app or attached to it (by
        id, name or attachment name on the app). Raises UnknownApp/UnknownResourceError."""
        with self._lock:
            return self._addon_json(*self._visible_addon(self._app(app), addon))

    def attachments_json(self, app: str | None = None) -> list[Json]:
        """`GET /addon-attachments`: every attachment of every app of the account (each
        add-on's own one on its billing app, and those to other apps); with `app`,
        `GET /apps/{app}/addon-attachments`: the attachments on that app, its own add-ons'
        first. Raises UnknownAppError."""
        with self._lock:
            apps = [self._app(app)] if app is not None else list(self._apps.values())
            return [self._attachment_json(a, att) for a in apps for att in self._attachments_on(a)]

    def attachment_json(self, app: str, attachment: str) -> Json:
        """`GET /apps/{app}/addon-attachments/{id_or_name}`. Raises UnknownAppError,
        UnknownResourceError."""
        with self._lock:
            target = self._app(app)
            return self._attachment_json(target, self._attachment(target, attachment))

    def config_vars(self, app: str) -> dict[str, str]:
        """`GET /apps/{app}/config-vars`: names and VALUES. Raises UnknownAppError."""
        with self._lock:
            return dict(self._app(app).config)

    def formation_json(self, app: str) -> list[Json]:
        """`GET /apps/{app}/formation`. Raises UnknownAppError."""
        with self._lock:
            target = self._app(app)
            return [self._formation_json(target, f) for f in target.formation.values()]

    def formation_type_json(self, app: str, process_type: str) -> Json:
        """`GET /apps/{app}/formation/{type_or_id}`. Raises UnknownApp/UnknownResourceError."""
        with self._lock:
            target = self._app(app)
            for formation in target.formation.values():
                if process_type in (formation.type, formation.id):
                    return self._formation_json(target, formation)
            raise UnknownResourceError("formation", process_type)

    def webhooks_json(self, app: str) -> list[Json]:
        """`GET /apps/{app}/webhooks` (no secrets). Raises UnknownAppError."""
        with self._lock:
            target = self._app(app)
            return [self._webhook_json(target, w) for w in target.webhooks]

    def webhook_json(self, app: str, webhook_id: str) -> Json:
        """`GET /apps/{app}/webhooks/{id}`. Raises UnknownApp/UnknownResourceError."""
        with self._lock:
            target = self._app(app)
            for hook in target.webhooks:
                if hook.id == webhook_id:
                    return self._webhook_json(target, hook)
            raise UnknownResourceError("webhook", webhook_id)

    # -- token, rate limit -------------------------------------------------------------------

    @property
    def token(self) -> str:
        with self._lock:
            return self._token

    def set_token(self, token: str) -> None:
        """Accept only `token` from now on, which makes a client's old token invalid (401)."""
        with self._lock:
            self._token = token

    def check_token(self, token: str) -> bool:
        """True when `token` is the account's API token."""
        with self._lock:
            return bool(token) and token == self._token

    def _refill(self) -> None:
        now = self._now()
        elapsed = (now - self._tokens_at).total_seconds()
        if elapsed > 0:
            self._tokens = min(
                float(self._rate_limit_max), self._tokens + elapsed * self._refill_per_second
            )
            self._tokens_at = now

    @property
    def rate_limit_remaining(self) -> int:
        """Whole request tokens left, as `RateLimit-Remaining` reports them."""
        with self._lock:
            self._refill()
            return max(0, math.floor(self._tokens))

    def set_rate_limit_remaining(self, remaining: int) -> None:
        """Set the token pool (e.g. 0 to see 429s, or back to 4500)."""
        with self._lock:
            self._refill()
            self._tokens = float(max(0, min(remaining, self._rate_limit_max)))

    def consume_rate_limit(self) -> bool:
        """Take one token for an API request; False (and nothing taken) when none is left."""
        with self._lock:
            self._refill()
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True

    # -- faults ------------------------------------------------------------------------------

    def inject_fault(
        self,
        app: str | None = None,
        *,
        status: int = 500,
        count: int = 1,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        """The next `count` API requests for `app` (when None: any request reading apps,
        `/apps...`, `/addons`, `/addon-attachments`, `/teams/{team}/apps`) answer `status`
        with a Heroku error body (or `body`), and `Retry-After` when given.

        Raises InvalidParamsError for a status outside 400-599 or a count below 1.
        """
        if not 400 <= status <= 599 or count < 1:
            raise InvalidParamsError("A fault has a 4xx/5xx status and a count of 1 or more.")
        with self._lock:
            self._faults.append(Fault(app, status, count, copy.deepcopy(body), retry_after))

    def inject_malformed(self, app: str | None = None, count: int = 1) -> None:
        """The next `count` API requests for `app` (when None: any request reading apps, as
        for `inject_fault`) answer 200 with a body that is not valid JSON. Raises
        InvalidParamsError for count < 1."""
        if count < 1:
            raise InvalidParamsError("count must be 1 or more.")
        with self._lock:
            self._malformed.append(Fault(app, 200, count))

    def clear_faults(self) -> None:
        """Drop every queued fault and malformed answer, and the latency."""
        with self._lock:
            self._faults.clear()
            self._malformed.clear()
            self._latency = 0.0

    def _take(self, queue: list[Fault], app: str | None, apps_path: bool) -> Fault | None:
        # A request may name the app by id; faults are queued by name (or by id).
        names = {app}
        if app is not None:
            names |= {a.name for a in self._apps.values() if a.id == app}
            names |= {a.id for a in self._apps.values() if a.name == app}
        for fault in queue:
            if (fault.app is None and apps_path) or (fault.app is not None and fault.app in names):
                fault.count -= 1
                if fault.count <= 0:
                    queue.remove(fault)
                return fault
        return None

    def take_fault(self, app: str | None, *, apps_path: bool) -> Fault | None:
        """Consume one use of the first queued fault matching a request, if any."""
        with self._lock:
            return self._take(self._faults, app, apps_path)

    def take_malformed(self, app: str | None, *, apps_path: bool) -> bool:
        """Consume one queued malformed answer matching a request; True if there was one."""
        with self._lock:
            return self._take(self._malformed, app, apps_path) is not None

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    def set_latency(self, seconds: float) -> None:
        """Delay every API request by `seconds` (0 for none). Raises InvalidParamsError."""
        if seconds < 0:
            raise InvalidParamsError("Latency cannot be negative.")
        with self._lock:
            self._latency = float(seconds)

    def set_stale_list_etags(self, on: bool) -> None:
        """Reproduce a known API bug: a list keeps its first ETag even after it changes, so
        a conditional request gets 304 for a stale page
        (https://github.com/heroku/platform-api/issues/73)."""
        with self._lock:
            self._stale_list_etags = bool(on)
            self._frozen_etags.clear()

    def list_etag(self, key: tuple[str, str], etag: str) -> str:
        """The ETag to send for list `key` (path, range): `etag`, or the frozen one."""
        with self._lock:
            if not self._stale_list_etags:
                return etag
            return self._frozen_etags.setdefault(key, etag)

    # -- counters ----------------------------------------------------------------------------

    def record_response(self, path: str, status: int, nbytes: int) -> None:
        """Count one API response of `nbytes` body bytes for `path` (the server calls this)."""
        with self._lock:
            self._requests_by_path[path] = self._requests_by_path.get(path, 0) + 1
            self._bytes_by_path[path] = self._bytes_by_path.get(path, 0) + nbytes
            self._requests_by_status[status] = self._requests_by_status.get(status, 0) + 1

    @property
    def request_count(self) -> int:
        """API requests answered since the last `reset_counters` (control routes excluded)."""
        with self._lock:
            return sum(self._requests_by_path.values())

    @property
    def bytes_sent(self) -> int:
        """Response body bytes sent for API requests since the last `reset_counters`."""
        with self._lock:
            return sum(self._bytes_by_path.values())

    @property
    def requests_by_path(self) -> dict[str, int]:
        with self._lock:
            return dict(self._requests_by_path)

    @property
    def bytes_by_path(self) -> dict[str, int]:
        with self._lock:
            return dict(self._bytes_by_path)

    def stats(self) -> Json:
        """Counters as one JSON-ready dict (what `GET /_sim/stats` answers)."""
        with self._lock:
            self._refill()
            return {
                "requests": sum(self._requests_by_path.values()),
                "bytes": sum(self._bytes_by_path.values()),
                "by_path": {
                    path: {"requests": count, "bytes": self._bytes_by_path.get(path, 0)}
                    for path, count in sorted(self._requests_by_path.items())
                },
                "by_status": {str(k): v for k, v in sorted(self._requests_by_status.items())},
                "rate_limit_remaining": max(0, math.floor(self._tokens)),
                "latency": self._latency,
                "queued_faults": sum(f.count for f in self._faults),
                "queued_malformed": sum(f.count for f in self._malformed),
            }

    def reset_counters(self) -> None:
        """Zero the request and byte counters."""
        with self._lock:
            self._requests_by_path.clear()
            self._bytes_by_path.clear()
            self._requests_by_status.clear()
