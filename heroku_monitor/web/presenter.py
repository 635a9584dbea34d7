"""What the dashboard shows, built for its templates.

`overview` is `GET /`: the apps with an open incident first (what, since when, who
acknowledged), then one compact row per app, filtered by name and team and cut into pages,
with the PRD's configuration form; it reads everything in a fixed number of statements
(`store.overview`), whatever the number of apps, and no app's timeline. `app_page` is
`GET /apps/{app}`: one app's timeline, alert history, dynos, incidents and settings forms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from heroku_monitor.core.budget import Budget
from heroku_monitor.core.incidents import Incident
from heroku_monitor.core.snapshot import Release
from heroku_monitor.service import Service
from heroku_monitor.store.models import Alert
from heroku_monitor.store.outbox import FAILED
from heroku_monitor.store.overview import AppRow, Overview
from heroku_monitor.store.teams import TeamView
from heroku_monitor.web.app_presenter import (
    DEFAULT_THRESHOLDS as DEFAULT_THRESHOLDS,
)
from heroku_monitor.web.app_presenter import (
    HEROKU_DASHBOARD as HEROKU_DASHBOARD,
)
from heroku_monitor.web.app_presenter import (
    HISTORY_SHOWN as HISTORY_SHOWN,
)
from heroku_monitor.web.app_presenter import (
    RUNNING as RUNNING,
)
from heroku_monitor.web.app_presenter import (
    AppView as AppView,
)
from heroku_monitor.web.app_presenter import (
    Certificate as Certificate,
)
from heroku_monitor.web.app_presenter import (
    Certificates as Certificates,
)
from heroku_monitor.web.app_presenter import (
    Refused as Refused,
)
from heroku_monitor.web.app_presenter import (
    Routing as Routing,
)
from heroku_monitor.web.app_presenter import (
    RuleRow as RuleRow,
)
from heroku_monitor.web.app_presenter import (
    ThresholdsView as ThresholdsView,
)
from heroku_monitor.web.app_presenter import (
    Watch as Watch,
)
from heroku_monitor.web.app_presenter import (
    _Base as _Base,
)
from heroku_monitor.web.app_presenter import (
    _edit_form as _edit_form,
)
from heroku_monitor.web.app_presenter import (
    _every as _every,
)
from heroku_monitor.web.app_presenter import (
    app_page as app_page,
)
from heroku_monitor.web.app_presenter import (
    dynos_summary as dynos_summary,
)
from heroku_monitor.web.app_presenter import (
    incident_what as incident_what,
)
from heroku_monitor.web.app_presenter import (
    thresholds_view as thresholds_view,
)
from heroku_monitor.web.auth import read_only_reason
from heroku_monitor.web.demo import BUTTONS as DEMO_BUTTONS
from heroku_monitor.web.forms import ActionForm, MonitorForm, TeamForm

PAGE_SIZE = 100  # rows of the overview's list a page shows
TROUBLES_SHOWN = 20  # open incidents listed in full at the top; the rest head the list
RECENT_ALERTS = 10  # the overview's latest alerts, of every app
TEAMS_APPS_SHOWN = 12  # a team's apps named on its card; the rest by a filter link
NO_TEAM = "_none"  # the team filter's value for apps a person added
QUERY_LIMIT = 30  # an app name is at most 30 characters: a longer filter matches nothing


@dataclass(frozen=True)
class Polling:
    """Which process runs the polling rounds (SPEC §13), for the page's status strip."""

    leader: str  # "this process (web.1 pid 42)", "web.2 pid 7" or "no process right now …"
    since: datetime | None  # when the leader took the lease (None: nobody leads)


def _polling(service: Service) -> Polling:
    leadership = service.leadership
    lease = leadership.current()
    if lease is None:
        periods = 2 * leadership.lease.total_seconds()
        return Polling(
            f"no process right now — another takes over within two lease periods ({periods:g} s)",
            None,
        )
    if lease.ours:
        return Polling(f"this process ({lease.label})", lease.since)
    return Polling(lease.label, lease.since)


@dataclass(frozen=True)
class Filter:
    """The overview's filter, from its query parameters: a part of the app's name (`q`),
    a team (`team`: a team's name, `NO_TEAM` for apps a person added, "" for all) and the
    page (from 1)."""

    q: str = ""
    team: str = ""
    page: int = 1

    @classmethod
    def of(cls, args: dict[str, str]) -> Filter:
        """The filter a request's query asks for; what makes no sense is ignored."""
        q = " ".join(str(args.get("q", "")).split()).lower()[:100]
        team = str(args.get("team", "")).strip()[:100]
        page_text = str(args.get("page", "1")).strip()
        page = int(page_text) if page_text.isascii() and page_text.isdigit() else 1
        return cls(q, team, max(1, min(page, 10_000)))

    @property
    def active(self) -> bool:
        return bool(self.q or self.team)

    def matches(self, row: AppRow) -> bool:
        if self.q and (len(self.q) > QUERY_LIMIT or self.q not in row.app_name):
            return False
        if self.team == NO_TEAM:
            return row.team is None
        return not self.team or row.team == self.team

    def query(self, page: int | None = None) -> dict[str, str | int]:
        """The query parameters of this filter at `page` (for the pager's links)."""
        out: dict[str, str | int] = {}
        if self.q:
            out["q"] = self.q
        if self.team:
            out["team"] = self.team
        if (page or self.page) > 1:
            out["page"] = page or self.page
        return out


@dataclass(frozen=True)
class Row:
    """One app's row on the overview."""

    app: AppRow
    health: str | None  # healthy, degraded, down (None: not seen yet)
    dynos: str  # "web 2/2 · worker 1/1"
    deploy: Release | None  # the release running now


@dataclass(frozen=True)
class Trouble:
    """An open incident, as the top of the overview lists it."""

    app: AppRow
    incident: Incident
    what: str  # "Dyno crash: 1 crash, open for 20 min (Tue 8 01:14 UTC)"


@dataclass(frozen=True)
class Page(_Base):
    """The overview, as `dashboard.html` reads it."""

    rows: list[Row]  # this page's
    total: int  # apps watched
    matched: int  # apps the filter lets through
    filter: Filter
    pages: int
    troubles: list[Trouble]  # the first `TROUBLES_SHOWN` open incidents
    troubled_apps: int  # apps with an open incident
    more_troubles: int  # open incidents not listed at the top
    first: AppRow | None
    config_form: MonitorForm
    new_form: MonitorForm
    failed_slot: str
    alerts: list[Alert]
    undelivered: int
    rate_limit: int | None
    budget: Budget
    rate_share: float
    throttle: str
    demo: bool
    teams: list[TeamView]
    team_form: TeamForm
    polling: Polling
    polled_every: dict[int, str]  # interval (min) -> how often it is polled, when stretched
    no_team: str = NO_TEAM
    demo_buttons: tuple[tuple[str, str], ...] = ()
    teams_apps_shown: int = TEAMS_APPS_SHOWN

    @property
    def first_shown(self) -> int:
        return (self.filter.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last_shown(self) -> int:
        return self.first_shown + len(self.rows) - 1 if self.rows else 0


def _row_key(row: AppRow) -> tuple[bool, bool, float, str]:
    """Apps with an open incident first (not yet acknowledged before acknowledged, the
    newest first), then every other app by name."""
    if not row.incidents:
        return (True, True, 0.0, row.app_name)
    acked = all(i.acknowledged_by for i in row.incidents)
    newest = max(i.opened_at for i in row.incidents)
    return (False, acked, -newest.timestamp(), row.app_name)


def _team_form(service: Service) -> TeamForm:
    form = TeamForm(formdata=None)
    form.slack_channel.data = service.settings.default_channel
    form.check_interval.data = str(service.settings.check_interval_minutes)
    return form


def overview(
    service: Service,
    chosen: Filter,
    failed: MonitorForm | TeamForm | None,
    failed_slot: str,
    remote_addr: str | None,
) -> Page:
    """The overview at `chosen`'s filter and page, with `failed` (a form that did not
    validate) in its `failed_slot`, as the visitor at `remote_addr` sees it. A fixed number
    of statements, whatever the number of apps."""
    settings, scheduler = service.settings, service.scheduler
    now = service.clock()
    store = Overview(service.db)
    every = store.rows(now)  # by id: the PRD's form edits the first
    first = every[0] if every else None
    ordered = sorted(every, key=_row_key)
    matched = [r for r in ordered if chosen.matches(r)]
    pages = max(1, math.ceil(len(matched) / PAGE_SIZE))
    chosen = Filter(chosen.q, chosen.team, min(chosen.page, pages))
    shown = matched[(chosen.page - 1) * PAGE_SIZE : chosen.page * PAGE_SIZE]
    kept = store.snapshots_of([r.monitor_id for r in shown])
    rows = []
    for r in shown:
        snapshot = kept.get(r.monitor_id)
        rows.append(
            Row(
                r,
                snapshot.health() if snapshot else None,
                dynos_summary(snapshot),
                snapshot.current_release if snapshot else None,
            )
        )
    troubles = [Trouble(r, i, incident_what(i, now)) for r in ordered for i in r.incidents]
    if isinstance(failed, MonitorForm) and failed_slot == "config":
        config_form = failed
    else:
        config_form = _edit_form(service, first)
        config_form.monitor_id.data = ""  # the PRD form edits the first monitor
    if isinstance(failed, MonitorForm) and failed_slot == "new":
        new_form = failed
    else:
        new_form = MonitorForm(formdata=None)
        new_form.slack_channel.data = settings.default_channel
        new_form.check_interval.data = str(settings.check_interval_minutes)
    return Page(
        now=now,
        action=ActionForm(),
        read_only=read_only_reason(settings, remote_addr),
        scheduler_running=scheduler.running,
        rows=rows,
        total=len(every),
        matched=len(matched),
        filter=chosen,
        pages=pages,
        troubles=troubles[:TROUBLES_SHOWN],
        troubled_apps=sum(1 for r in every if r.incidents),
        more_troubles=max(0, len(troubles) - TROUBLES_SHOWN),
        first=first,
        config_form=config_form,
        new_form=new_form,
        failed_slot=failed_slot,
        alerts=service.outbox.recent(limit=RECENT_ALERTS),
        undelivered=service.outbox.count(FAILED),
        rate_limit=service.heroku.rate_limit_remaining,
        budget=scheduler.budget,
        rate_share=settings.rate_share,
        throttle=service.checker.throttle_note(now),
        demo=service.simulator is not None,
        demo_buttons=DEMO_BUTTONS if service.simulator is not None else (),
        teams=service.teams.all(),
        team_form=failed if isinstance(failed, TeamForm) else _team_form(service),
        polling=_polling(service),
        polled_every={
            minutes: _every(scheduler.interval_seconds(minutes))
            for minutes in sorted({r.check_interval for r in every if not r.paused})
        }
        if scheduler.budget.stretched
        else {},
    )
