"""Polling rounds (in the one process that leads, SPEC §13): the monitors whose interval
jobs fall due together join one round, which reads the app lists and add-ons once (and
brings the team watches' apps up to date), then checks its apps concurrently on a bounded
pool, each reading its dynos (and its releases and config vars only when something moved).
The round claims its apps, and releases them, in one transaction each; an app whose read
changed nothing writes nothing of its own (`Checker.check_round`).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor as Pool
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from heroku_monitor.core.rounds import RoundListing
from heroku_monitor.heroku.errors import HerokuError, RateLimited
from heroku_monitor.heroku.transport import spending
from heroku_monitor.render import messages
from heroku_monitor.runtime.check import POLL, WEBHOOK, Checker
from heroku_monitor.runtime.delivery import Delivery
from heroku_monitor.runtime.heartbeat import Heartbeat
from heroku_monitor.runtime.jobs import Aps, survived
from heroku_monitor.runtime.plan import Plan
from heroku_monitor.runtime.triggers import Triggers
from heroku_monitor.store.leader import Leadership
from heroku_monitor.store.monitors import Monitors
from heroku_monitor.store.teams import TeamView, TeamWatches

log = logging.getLogger(__name__)

# Interval jobs due within this long of each other join one round.
ROUND_GATHER = 0.2  # seconds


class Polling:
    def __init__(
        self,
        checker: Checker,
        monitors: Monitors,
        teams: TeamWatches,
        delivery: Delivery,
        *,
        plan: Plan,
        triggers: Triggers,
        aps: Aps,
        leadership: Leadership,
        max_workers: int = 4,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.checker = checker
        self.monitors = monitors
        self.teams = teams
        self.delivery = delivery
        self.plan = plan
        self.triggers = triggers
        self.aps = aps
        self.leadership = leadership
        self.heartbeat = heartbeat  # HEARTBEAT_URL, pinged after each round that worked
        # What the account's lists (apps and add-ons) cost the last round that read them.
        self.list_requests = 0
        self.rounds = 0
        # Why the round's lists cannot be read now (None: they can): said once an outage.
        self.lists_failing: str | None = None
        self._lock = threading.Lock()
        self._due: set[int] = set()  # monitors whose interval job fired: the next round
        self._round_waits = False
        self._waiting = 0  # round jobs waiting for the round in progress
        self._round_lock = threading.Lock()
        self._round_pool = Pool(max_workers=max_workers, thread_name_prefix="round")
        # The checks a webhook asked for of apps a round held, once it let go of them: not
        # behind the round's apps on its pool.
        self._asked_pool = Pool(max_workers=2, thread_name_prefix="round-asked")

    @property
    def rounds_waiting(self) -> int:
        """How many round jobs wait for the round in progress to end."""
        with self._lock:
            return self._waiting

    def poll_overdue(self, *, everything: bool = False) -> None:
        """Poll, in one round, every active monitor whose interval has passed since its
        last check (`everything`: every active monitor)."""
        now = self.checker.clock()
        overdue = [
            m.id
            for m in self.monitors.all()
            if not m.paused
            and (
                everything
                or m.last_check_at is None
                or (now - m.last_check_at).total_seconds() >= self.plan.seconds(m.check_interval)
            )
        ]
        if overdue:
            self.poll_now(overdue)

    def poll_now(self, monitor_ids: list[int], *, gather: float = 0.0) -> None:
        """Check these monitors in one polling round, `gather` seconds from now (the
        interval jobs falling due meanwhile join it), or as soon as a worker is free."""
        with self._lock:
            self._due.update(monitor_ids)
            if self._round_waits:
                return
            self._round_waits = True
        self.aps.add_job(
            self._round, "date", run_date=datetime.now(UTC) + timedelta(seconds=gather)
        )

    def poll(self, monitor_id: int | None) -> None:
        """A monitor's interval job (or a team watch's, `None`): it joins the round that
        starts a moment from now."""
        self.poll_now([] if monitor_id is None else [monitor_id], gather=ROUND_GATHER)

    def shutdown(self) -> None:
        """Wait for the round's running checks; the ones not started are dropped."""
        self._round_pool.shutdown(wait=True, cancel_futures=True)
        self._asked_pool.shutdown(wait=True, cancel_futures=True)

    def _round(self) -> None:
        """One polling round: the lists once, then the due monitors' checks concurrently
        (each reads its dynos, and its releases and config vars only when they moved)."""
        # One round at a time: a round that falls due while one runs waits for it, then
        # takes everything that fell due meanwhile (never two reads of the lists at once).
        with self._lock:
            self._waiting += 1
        with self._round_lock:
            with self._lock:
                self._waiting -= 1
                due, self._due, self._round_waits = self._due, set(), False
            if not self.leadership.leads() or self.triggers.pause_left() is not None:
                return
            with survived(log, "a polling round"):
                self.run_round(due)

    def run_round(self, monitor_ids: set[int]) -> None:
        """One polling round of these monitors, now, in this thread (each app's check on
        the round's pool): the lists once, then each app's dynos (once for all the monitors
        watching it), and its releases and config vars only when they moved; an app that
        did not change costs no database write of its own (`Checker.check_round`).

        A round that worked pings HEARTBEAT_URL at its end (SPEC §16): one that checked
        something (a monitor or a team watch), none of whose checks failed on the database,
        whose team sync and delivery run ran without raising. Heroku failing counts as
        working (its checks failed and alerted it); a round stopped by the rate limit
        checked nothing and does not ping, nor does one that raised."""
        due = set(monitor_ids)
        beat, failures = self.heartbeat, self.checker.database_failures if self.heartbeat else 0
        watches = [w for w in self.teams.all() if not w.paused]
        before = self.checker.heroku.spent(POLL)
        own = self.monitors.own_apps(due)
        listing = self._listing(own, [w.team for w in watches])
        if listing is None:
            return  # rate-limited: the pause is on, the next interval comes
        added, listing = self._sync_teams(watches, listing)
        due.update(added)
        # One claim and one release for the round; an app read once for all its monitors;
        # an unchanged one costs no write of its own (`Checker.check_round`). A monitor
        # checked in this process already is left to that check (it reads the app).
        # A check asked for meanwhile (a webhook's) runs once the round has checked its
        # app, not at the round's end.
        mine = self.triggers.round_starts(due)
        ended: set[int] = set()

        def let_go(monitor_ids: set[int], asked_elsewhere: set[int]) -> None:
            ended.update(monitor_ids)
            self.triggers.round_ended(monitor_ids)  # a check waiting here runs now
            for monitor_id in sorted(asked_elsewhere):  # another process's webhook
                self._asked_pool.submit(self.triggers.check, monitor_id, False, WEBHOOK)

        try:
            self.checker.check_round(
                mine,
                listing,
                self._round_pool,
                asked=lambda: self.triggers.checking_again,
                let_go=let_go,
            )
        finally:
            self.triggers.round_ended(mine - ended)
        spent = self.checker.heroku.spent(POLL) - before
        if due or watches:
            self.plan.measured(spent, len(due))
        try:
            self.checker.flush_spend()
            self.delivery.run()
        finally:
            if due or watches:
                with self._lock:
                    self.rounds += 1  # done, its alerts sent (or failed trying)
        if beat is not None and (due or watches) and self.checker.database_failures == failures:
            beat.ping()  # on its own thread: never delays the round

    def _sync_teams(
        self, watches: list[TeamView], listing: RoundListing
    ) -> tuple[set[int], RoundListing]:
        """Bring the watches' monitors up to date with the teams' apps in the round's
        lists; returns the monitors made for the apps that joined (checked this round),
        and the listing with the apps a team's list lacked but Heroku still shows."""
        added: set[int] = set()
        now = self.checker.clock()
        for watch in watches:
            found = listing.teams.get(watch.team) if listing.error is None else None
            problem = listing.error or f"Heroku knows no team {watch.team!r} this token can see"
            missing = [app for app in watch.apps if found is not None and app not in found]
            farewells = {app: messages.no_longer_watched(app, watch.team, now) for app in missing}
            gone, listing = self._gone(watch.team, missing, listing)
            change = self.teams.sync(
                watch.id, found, now, error=problem, farewells=farewells, gone=gone
            )
            added.update(monitor_id for monitor_id, _ in change.added)
            for monitor_id, app in change.added:
                log.info("team %s: now watching %s (monitor %s)", watch.team, app, monitor_id)
            for app in change.dropped:
                log.info("team %s: %s left the team, no longer watched", watch.team, app)
        return added, listing

    def _gone(
        self, team: str, missing: list[str], listing: RoundListing
    ) -> tuple[set[str], RoundListing]:
        """Of the apps the team's list lacked, the ones Heroku confirms are gone from the
        team (`GET /apps/{app}`, one request each: 404, or another team's); one it still
        shows in the team joins the listing (its check reads only its dynos)."""
        gone: set[str] = set()
        shown = dict(listing.apps)
        for app in missing:
            try:
                with spending(POLL):
                    seen = self.checker.heroku.app_listed(app)
            except HerokuError as exc:  # not confirmed: it waits for the next round
                log.warning(
                    "team %s: %s is missing from its list, and reading it failed: %s",
                    team,
                    app,
                    exc,
                )
                continue
            if seen is None or seen.team != team:
                gone.add(app)
            else:
                shown[app] = seen
        return gone, replace(listing, apps=shown) if missing else listing

    def _listing(self, apps: list[str], teams: list[str]) -> RoundListing | None:
        """The round's lists: the account's (and the teams'), or for a few apps in a big
        account, app by app when that costs fewer requests than the last round's lists
        did. On an error, a listing that says why: each check of the round then reads its
        app alone (SPEC §16: one failing list never blinds every monitor), and the team
        watches keep their apps; None when Heroku's rate limit stopped the round."""
        heroku = self.checker.heroku
        try:
            with spending(POLL):
                if apps and not teams and 2 * len(apps) < self.list_requests:
                    listing = heroku.listing_alone(apps)
                else:
                    listing = heroku.listing(apps=bool(apps), teams=teams)
                    if not teams:
                        self.list_requests = listing.requests
        except RateLimited:
            self.checker.throttle(self.checker.clock())
            return None
        except HerokuError as exc:
            if self.lists_failing is None:
                log.warning(
                    "polling rounds cannot read the app lists (%s): their apps are checked "
                    "one by one until Heroku answers them",
                    exc,
                )
            self.lists_failing = str(exc)
            return RoundListing(error=str(exc))
        if self.lists_failing is not None:
            log.info("the app lists can be read again: rounds read them once more")
            self.lists_failing = None
        return listing
