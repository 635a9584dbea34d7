"""The Heroku Platform API's endpoints the monitor calls: one method each (a few read
several at once), on the transport (`transport.py`), their answers mapped to core values
(`mapping.py`).

https://devcenter.heroku.com/articles/platform-api-reference
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from heroku_monitor.core import builds as pipeline
from heroku_monitor.core.rounds import Details, RoundListing
from heroku_monitor.core.snapshot import Addon, AppSnapshot, Build, Dyno, ListedApp, Release
from heroku_monitor.heroku import mapping
from heroku_monitor.heroku.builds import OutputReader
from heroku_monitor.heroku.errors import Forbidden, HerokuError, NotFound, RateLimited
from heroku_monitor.heroku.mapping import missing_fields
from heroku_monitor.heroku.transport import Transport

# Heroku lists are ordered by id (a UUID) unless asked otherwise, 200 to a page: the
# newest releases must be asked for explicitly, as the Heroku CLI does.
NEWEST_RELEASES = "version ..; order=desc, max={n}"
# The newest builds, as the Heroku CLI asks for them (`heroku builds`, heroku/heroku-builds).
NEWEST_BUILDS = "created_at ..; max={n}, order=desc"
COMMITS_KEPT = 4096  # slugs' and OCI images' commits remembered (they never change)
T = TypeVar("T")


class HerokuClient(Transport):
    """A thread-safe client for the endpoints the monitor reads (and the few it writes)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: tuple[float, float] = (3.05, 10.0),
        retries: int = 3,
        backoff: float = 0.5,
        release_window: int = 10,
        concurrency: int = 16,
    ) -> None:
        super().__init__(
            base_url,
            api_key,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            concurrency=concurrency,
        )
        self.release_window = release_window
        # SPEC §14: build and release-phase output, and the commits of slugs read before.
        self.outputs = OutputReader()
        self._commits: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._commits_lock = threading.Lock()

    def snapshot(
        self,
        app: str,
        *,
        now: datetime,
        digest_key: bytes,
        include_config: bool = True,
        known: Mapping[str, tuple[str, str]] | None = None,
    ) -> AppSnapshot:
        """Read the app, its dynos, newest releases, add-ons, builds and config var digests,
        all at once (six requests in parallel), and the commit of a new release's slug.

        `include_config=False` skips the config vars (a status answer needs none of them).
        `known`: the commits the caller knows by slug id (`core.builds.known_commits` of the
        last snapshot), not read again.
        """
        base = f"/apps/{quote(app, safe='')}"
        calls: list[Callable[[], Any]] = [
            partial(self._app_info, base),
            lambda: self.get_all(f"{base}/dynos"),
            lambda: self.get_all(f"{base}/addons"),
            lambda: self._releases(base, known),
            # One more request: a full check (a webhook's, a person's, the first) sees the
            # builds, so an `api:build` delivery alerts in seconds (SPEC §14).
            partial(self.builds_if_shown, app),
        ]
        if include_config:
            calls.append(lambda: self._config(base, digest_key))
        info, dynos, addons, releases, found_builds, *config = self.together(*calls)
        whole = mapping.snapshot(
            app,
            info,
            dynos,
            addons,
            releases,
            config=config[0] if include_config else None,
            digest_key=digest_key,
            now=now,
        )
        if found_builds is None:
            return whole
        return replace(whole, builds=found_builds, builds_at=now)

    def close(self) -> None:
        self.outputs.close()
        super().close()

    def builds_if_shown(self, app: str) -> tuple[Build, ...] | None:
        """The app's builds, or None when Heroku shows none to this token (404, 403: the
        rest of the check stands, its builds are carried)."""
        try:
            return self.builds(app)
        except (NotFound, Forbidden):
            return None

    def _releases(
        self, base: str, known: Mapping[str, tuple[str, str]] | None = None
    ) -> list[Release]:
        """The newest releases; the newest one's commit (and the newest succeeded one's)
        read from its slug or OCI image when not known; a newest release that failed in
        its release phase with the last lines of that output (SPEC §14)."""
        data, _ = self.get(
            f"{base}/releases", range_header=NEWEST_RELEASES.format(n=self.release_window)
        )
        releases = mapping.releases(data, base)
        releases = self._with_commits(base, releases, known or {})
        newest = max(range(len(releases)), key=lambda i: releases[i].version, default=None)
        if newest is not None and releases[newest].status == "failed":
            url = data[newest].get("output_stream_url") if isinstance(data[newest], dict) else None
            if isinstance(url, str) and url:
                output, error = self.outputs.tail(url)
                releases[newest] = replace(releases[newest], output=output, output_error=error)
        return releases

    def _with_commits(
        self, base: str, releases: list[Release], known: Mapping[str, tuple[str, str]]
    ) -> list[Release]:
        with self._commits_lock:
            remembered = dict(self._commits)
        wanted = pipeline.artifacts_to_read(releases, set(known) | set(remembered))
        read: dict[str, tuple[str, str]] = {}
        for artifact in wanted:
            oci = any(r.image_id == artifact and not r.slug_id for r in releases)
            found = self._commit(f"{base}/{'oci-images' if oci else 'slugs'}/{quote(artifact)}")
            if found is not None:
                read[artifact] = found
        if read:
            with self._commits_lock:
                self._commits.update(read)
                while len(self._commits) > COMMITS_KEPT:
                    self._commits.popitem(last=False)
        commits = {**remembered, **known, **read}
        return [
            replace(r, commit=commits[a][0], commit_description=commits[a][1])
            if not r.commit and (a := r.slug_id or r.image_id) and a in commits
            else r
            for r in releases
        ]

    def _commit(self, path: str) -> tuple[str, str] | None:
        """A slug's (or OCI image's) commit; None when it cannot be read (deleted, say):
        the alert then goes without it, never fails for it."""
        try:
            data, _ = self.get(path)
        except RateLimited:
            raise
        except HerokuError:
            return None
        return mapping.commit_of(data, path)

    def builds(self, app: str) -> tuple[Build, ...]:
        """The app's newest builds, newest first (one request: `GET /apps/{app}/builds`
        with `Range: created_at ..; max=5, order=desc`, as the Heroku CLI asks); each
        failed one newer than the newest that succeeded with the last lines of its output
        (SPEC §14). What polling reads every 20th round (`core.builds.builds_due`)."""
        base = f"/apps/{quote(app, safe='')}"
        data, _ = self.get(
            f"{base}/builds", range_header=NEWEST_BUILDS.format(n=pipeline.BUILDS_READ)
        )
        found = mapping.builds(data, base)
        urls = [b.get("output_stream_url") if isinstance(b, dict) else None for b in data]

        def newest_first(i: int) -> tuple[float, int]:
            made = found[i].created_at
            return (-(made.timestamp() if made is not None else 0.0), i)

        order = sorted(range(len(found)), key=newest_first)
        shown: list[Build] = []
        succeeded = False
        for i in order:
            build, url = found[i], urls[i]
            succeeded = succeeded or build.status == "succeeded"
            if build.status == "failed" and not succeeded and isinstance(url, str) and url:
                output, error = self.outputs.tail(url)
                build = replace(build, output=output, output_error=error)
            shown.append(build)
        return tuple(shown)

    def _config(self, base: str, digest_key: bytes) -> dict[str, str]:
        config, _ = self.get(
            f"{base}/config-vars",
            transform=lambda data: mapping.config_digests(mapping.config_object(data), digest_key),
            conditional=True,
        )
        return dict(config)

    # -- a polling round (SPEC §13) ------------------------------------------------------

    def listing(self, *, apps: bool, teams: list[str]) -> RoundListing:
        """The round's lists, read at once: every app of the account (`apps`) and of each
        team, every add-on of the account, and every add-on attachment. An app's add-ons
        are its own and those of other apps attached to it (a shared database), as
        `GET /apps/{app}/addons` shows them. A team Heroku does not know, or this token
        cannot see, is left out of `teams` (its watch says why); other errors raise."""
        calls: list[Callable[[], tuple[list[Any], int] | None]] = [
            lambda: self.pages("/addons"),
            lambda: self.pages("/addon-attachments"),
        ]
        if apps:
            calls.append(lambda: self.pages("/apps"))
        calls += [partial(self._team_apps, team) for team in teams]
        answers = self.together(*calls)
        requests = sum(answer[1] for answer in answers if answer is not None)
        addons, attachments = (answer[0] if answer is not None else [] for answer in answers[:2])
        lists = [answer[0] if answer is not None else None for answer in answers[2:]]
        account = (lists.pop(0) or []) if apps else None
        return mapping.listing(addons, attachments, account, teams, lists, requests=requests)

    def listing_alone(self, apps: list[str]) -> RoundListing:
        """The round's lists for a few apps in a big account: each app and its add-ons,
        read app by app (two requests an app, all at once), which costs less than the
        account's lists when those run to more pages. An app Heroku does not show is left
        out (its check reads it alone, and the 404 says why)."""
        calls: list[Callable[[], Any]] = []
        for name in apps:
            base = f"/apps/{quote(name, safe='')}"
            calls += [
                partial(self._unless_missing, partial(self._app_info, base)),
                partial(self._unless_missing, partial(self.get_all, f"{base}/addons")),
            ]
        answers = self.together(*calls)
        pairs = list(zip(answers[::2], answers[1::2], strict=True))
        return mapping.listing_alone(pairs, requests=len(calls))

    def app_listed(self, app: str) -> ListedApp | None:
        """The app as `GET /apps/{app}` shows it (its team too), as a list would; None
        when Heroku knows no such app (404). One request."""
        info = self._unless_missing(partial(self._app_info, f"/apps/{quote(app, safe='')}"))
        if info is None:
            return None
        with missing_fields(f"Heroku's answer for {app!r} is"):
            return mapping.listed_app(info)

    def _app_info(self, base: str) -> Any:
        return self.get(base, conditional=True)[0]

    @staticmethod
    def _unless_missing(call: Callable[[], T]) -> T | None:
        try:
            return call()
        except NotFound:
            return None

    def _team_apps(self, team: str) -> tuple[list[Any], int] | None:
        try:
            return self.pages(f"/teams/{quote(team, safe='')}/apps")
        except (NotFound, Forbidden):
            return None

    def app_parts(
        self,
        app: str,
        *,
        details: bool,
        addons: bool = False,
        digest_key: bytes,
        known: Mapping[str, tuple[str, str]] | None = None,
    ) -> tuple[list[Dyno], Details | None, tuple[Addon, ...] | None]:
        """What a round reads of one app: its dynos; with `details` its newest releases and
        config var digests too; with `addons` its add-ons (when the round's lists could
        not tell them). All at once."""
        base = f"/apps/{quote(app, safe='')}"
        calls: list[Callable[[], Any]] = [lambda: self.get_all(f"{base}/dynos")]
        if addons:
            calls.append(lambda: self.get_all(f"{base}/addons"))
        if details:
            calls += [lambda: self._releases(base, known), lambda: self._config(base, digest_key)]
        dynos, *rest = self.together(*calls)
        with missing_fields(f"Heroku's answer for {app!r} is"):
            parsed = [mapping.dyno(d) for d in dynos]
            found = tuple(mapping.addon(a) for a in rest.pop(0)) if addons else None
        got = Details(tuple(rest[0]), rest[1], mapping.key_id(digest_key)) if details else None
        return parsed, got, found

    def rate_limits(self) -> int:
        """Requests left for this token; this call itself is free."""
        data, _ = self.get("/account/rate-limits")
        return int(data["remaining"])

    def webhooks(self, app: str) -> list[dict[str, Any]]:
        """The app's webhook subscriptions (`GET /apps/{app}/webhooks`; no secrets)."""
        hooks = self.get_all(f"/apps/{quote(app, safe='')}/webhooks")
        return [h for h in hooks if isinstance(h, dict)]

    def create_webhook(self, app: str, *, url: str, secret: str, include: list[str]) -> Any:
        """Subscribe `url` to the app's webhook events (the monitor's writes are this and
        `update_webhook`, both from `register-webhook`)."""
        body = {"include": include, "level": "sync", "url": url, "secret": secret}
        path = f"/apps/{quote(app, safe='')}/webhooks"
        return self._json(self._request("POST", path, body=body), path)

    def log_drains(self, app: str) -> list[dict[str, Any]]:
        """The app's log drains (`GET /apps/{app}/log-drains`), each with its token."""
        drains = self.get_all(f"/apps/{quote(app, safe='')}/log-drains")
        return [d for d in drains if isinstance(d, dict)]

    def create_log_drain(self, app: str, url: str) -> Any:
        """Add a log drain to the app (the one write of `register-drain`)."""
        path = f"/apps/{quote(app, safe='')}/log-drains"
        return self._json(self._request("POST", path, body={"url": url}), path)

    def delete_log_drain(self, app: str, drain_id: str) -> Any:
        """Remove one of the app's log drains (one `register-drain` made before)."""
        path = f"/apps/{quote(app, safe='')}/log-drains/{quote(drain_id, safe='')}"
        return self._json(self._request("DELETE", path), path)

    def update_webhook(
        self, app: str, webhook_id: str, *, url: str, secret: str, include: list[str]
    ) -> Any:
        """Point an existing subscription at `url`, signed with `secret`, for `include`."""
        body = {"include": include, "level": "sync", "url": url, "secret": secret}
        path = f"/apps/{quote(app, safe='')}/webhooks/{quote(webhook_id, safe='')}"
        return self._json(self._request("PATCH", path, body=body), path)
