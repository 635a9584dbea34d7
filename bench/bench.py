"""Benchmark: this service against a PRD-literal baseline (bench/baseline.py), both run
against the Heroku simulator and the fake Slack on 127.0.0.1. Not a test: it prints a table.

    make bench        # or: .venv/bin/python bench/bench.py [--apps 100]

Measured:
- Heroku requests and bytes of one check of one app alone (a webhook's, a person's);
- Heroku requests per app of a steady polling round (`run_round`: the lists once, then each
  app's dynos), with N apps and with 500, against the previous version's 5 (every app
  checked alone) and the baseline's requests per check;
- requests and bytes per hour, 1 and N apps at a 1-minute interval, against the 4,500
  requests/hour limit, and the cadence the rate budget gives N and 500 apps at a 1-minute
  interval within the service's share of it (half): ours at the measured cost of a round,
  the previous version at 5 requests per app, the baseline unthrottled;
- wall time of one polling round of N apps with 100 ms of API latency (the first round,
  which reads every app's details, and a steady one), of N whole checks of one app each
  run 4 at a time (how the previous version polled), and of one round of 500 apps;
- time from a dyno crash to the Slack post (webhook and polling);
- /heroku-status latency p50/p99 with Heroku at 0 ms and 2 s;
- peak memory: the Python heap (tracemalloc) of a first round of N apps, and the peak
  RSS of a process of its own (bench/rss.py) polling 500 apps (two rounds) or, for the
  baseline, checking each of them once;
- the Heroku requests webhook storms cost (50 signed deliveries for one app in a second;
  one captured delivery replayed 300 times in 10 s), and log drains (bench/logs_bench.py);
- the interval the rate budget gives 500 team apps at a 1-minute interval, round after round
  (`budget_interval_500`), against what 4,500 requests/hour allow;
- the dashboard's overview and /healthz at 41 and 500 apps: time, size, SQL statements
  (bench/dashboard_bench.py);
- what polling for failed builds and reading certificates cost in Heroku requests
  (bench/pipeline_bench.py).

`--storms` measures only the storms, `--logs` only the log drains, and `--soak` runs the
90-day soak instead (bench/soak.py; the options after it are the soak's).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

from slack_sdk import WebClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import dashboard_bench, logs_bench, pipeline_bench, soak
from bench.baseline import BaselineMonitor
from heroku_monitor import service as service_module
from heroku_monitor.core import budget
from heroku_monitor.heroku.webhooks import SIGNATURE_HEADER, signature
from heroku_monitor.runtime.scheduler import (
    CERTS_JOB,
    DELIVERY_JOB,
    LEAD_JOB,
    PRUNE_JOB,
    RECONCILE_JOB,
    STATUS_JOB,
    TEND_JOB,
)
from heroku_monitor.service import Service
from heroku_monitor.settings import Settings
from heroku_monitor.web import create_app
from heroku_sim import Simulator, SimulatorServer
from tests.fakes import FakeSlack
from tests.support.web import LiveSite, wait_until

SIGNING_SECRET = "bench-signing-secret"
WEBHOOK_SECRET = "bench-webhook-secret"
RELEASES = 300  # a long-lived app: the baseline pages through every one, every minute
LIMIT = budget.HEROKU_REQUESTS_PER_HOUR
MANY = 500  # apps for the cadence, the big round and the RSS rows
RSS_SCRIPT = Path(__file__).resolve().parent / "rss.py"

Row = tuple[str, str, str]


def build(heroku: SimulatorServer, sim: Simulator, slack: FakeSlack, workdir: str) -> Service:
    settings = Settings(
        heroku_api_key=sim.token,
        slack_bot_token=slack.token,
        database_url=f"sqlite:///{workdir}/bench.db",
        heroku_api_url=heroku.url,
        slack_api_url=slack.url,
        slack_signing_secret=SIGNING_SECRET,
        heroku_webhook_secret=WEBHOOK_SECRET,
    )
    return service_module.build(settings)


def edited_since(slack: FakeSlack, edits: int) -> bool:
    """Whether a message was edited (chat.update) since there were `edits` edits."""
    return len(slack.updates) > edits


def cost(sim: Simulator, action: Callable[[], object]) -> tuple[int, int]:
    """Heroku requests and bytes that `action` costs."""
    sim.reset_counters()
    action()
    stats = sim.stats()
    return int(stats["requests"]), int(stats["bytes"])


def refill(sim: Simulator) -> None:
    """Top the simulator's rate limit up (it does not refill by itself), as an hour would:
    the bench spends more than 4,500 requests in all."""
    sim.set_rate_limit_remaining(LIMIT)


def round_cost(sim: Simulator, service: Service, ids: set[int]) -> tuple[int, int, float]:
    """Heroku requests and bytes of one polling round of `ids`, and the seconds it took."""
    seconds: list[float] = []
    requests, nbytes = cost(
        sim, lambda: seconds.append(timed(partial(service.scheduler.run_round, ids)))
    )
    return requests, nbytes, seconds[0]


def peak_rss(
    mode: str, heroku: SimulatorServer, sim: Simulator, slack: FakeSlack, apps: list[str]
) -> int:
    """Peak RSS, in bytes, of a process of its own polling `apps` (bench/rss.py)."""
    refill(sim)
    argv = [sys.executable, str(RSS_SCRIPT), mode, heroku.url, sim.token, slack.url]
    done = subprocess.run(
        [*argv, slack.token, *apps], capture_output=True, text=True, timeout=600, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench/rss.py {mode} failed:\n{done.stderr}")
    return int(json.loads(done.stdout.splitlines()[-1])["peak_rss_kb"]) * 1024


def next_second() -> None:
    """Heroku's timestamps count whole seconds: two crashes of one dyno within the same
    second would be one event. Real dynos take longer than that to restart."""
    time.sleep(1 - time.time() % 1 + 0.01)


def map_all(action: Callable[[str], object], items: list[str]) -> None:
    for item in items:
        action(item)


def create_apps(sim: Simulator, names: list[str]) -> None:
    for name in names:
        sim.create_app(name, releases=RELEASES)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{p50 * 1000:.0f} / {p99 * 1000:.0f} ms (n={len(ordered)})"


def signed_command(text: str, response_url: str) -> tuple[str, dict[str, str]]:
    body = urlencode(
        {
            "command": "/heroku-status",
            "text": text,
            "response_url": response_url,
            "team_id": "T1",
            "user_id": "U1",
            "channel_id": "C1",
            "trigger_id": "1",
        }
    )
    ts = str(int(time.time()))
    mac = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256)
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + mac.hexdigest(),
    }


def quiet(service: Service) -> bool:
    """No check running and none waiting (debounced, deferred or asked for)."""
    waiting = [j for j in service.scheduler.aps.get_jobs() if not j.id.startswith("check-")]
    housekeeping = (
        DELIVERY_JOB,
        LEAD_JOB,
        PRUNE_JOB,
        RECONCILE_JOB,
        TEND_JOB,
        CERTS_JOB,
        STATUS_JOB,
    )
    waiting = [j for j in waiting if j.id not in housekeeping]
    return not waiting and not service.scheduler.triggers.checking


def storm_cost(deliveries: int, seconds: float, *, replay: bool) -> tuple[int, int]:
    """(Heroku requests, checks) that `deliveries` signed webhook deliveries for one app,
    evenly spread over `seconds`, cost: each a new event (a deploy's dyno restarts), or one
    captured delivery sent again and again (`replay`)."""
    app = "storm-app"
    sim = Simulator(seed=2)
    sim.create_app(app)
    body = {
        "action": "update",
        "data": {"app": {"id": str(uuid.uuid4()), "name": app}, "name": "web.1"},
        "id": str(uuid.uuid4()),
        "resource": "dyno",
    }
    with (
        SimulatorServer(sim) as heroku,
        FakeSlack() as slack,
        tempfile.TemporaryDirectory() as workdir,
    ):
        service = build(heroku, sim, slack, workdir)
        service.monitors.add(app, "#alerts", 1, service.clock())
        service.scheduler.start()
        wait_until(lambda: service.checker.last_check.ok is True and quiet(service), timeout=30)
        client = create_app(service).test_client()
        sim.reset_counters()
        start = time.monotonic()
        for i in range(deliveries):
            if not replay:
                body = copy.deepcopy(body) | {"id": str(uuid.uuid4())}
            raw = json.dumps(body).encode()
            headers = {SIGNATURE_HEADER: signature(WEBHOOK_SECRET, raw)}
            client.post("/webhooks/heroku", data=raw, headers=headers)
            time.sleep(max(0.0, start + (i + 1) * seconds / deliveries - time.monotonic()))
        wait_until(lambda: quiet(service), timeout=60)
        requests, checks = sim.request_count, sim.requests_by_path.get(f"/apps/{app}", 0)
        service.stop()
    return requests, checks


def storm_rows() -> list[Row]:
    rows: list[Row] = []
    for label, deliveries, seconds, replay in (
        ("50 signed deliveries for one app in 1 s", 50, 1.0, False),
        ("1 captured delivery replayed 300 times in 10 s", 300, 10.0, True),
    ):
        requests, checks = storm_cost(deliveries, seconds, replay=replay)
        rows.append(
            (
                f"Heroku requests, {label}",
                f"{requests} ({checks} check{'s' * (checks != 1)})",
                "no webhooks",
            )
        )
    return rows


def webhook_latency(samples: int = 20, *, apps: int = 1) -> list[float]:
    """Seconds from a dyno crash to its Slack post, by webhook, `samples` times: a live
    site (the Flask app served from a thread, its scheduler running) that `apps` monitors
    share, the simulator delivering a `sync` webhook for the first app's dyno events. Each
    crash is followed by the dyno coming back up (an edit of the incident's message), as
    in `main`'s row."""
    sim = Simulator(seed=3)
    names = [f"latency-app-{i:03d}" for i in range(apps)]
    create_apps(sim, names)
    first = names[0]
    with (
        SimulatorServer(sim) as heroku,
        FakeSlack() as slack,
        tempfile.TemporaryDirectory() as workdir,
    ):
        service = build(heroku, sim, slack, workdir)
        now = service.clock()
        ids = [service.monitors.add(n, "#alerts", 1, now) for n in names]
        with LiveSite(service) as live:
            service.checker.check(ids[0])
            wait_until(lambda: service.checker.last_check.ok is True and quiet(service), timeout=30)
            sim.create_webhook(
                first,
                include=["dyno", "api:release"],
                level="sync",
                url=live.url + "/webhooks/heroku",
                secret=WEBHOOK_SECRET,
            )
            taken: list[float] = []
            for _ in range(samples):
                next_second()
                before = len(slack.messages)
                start = time.perf_counter()
                sim.crash_dyno(first, "web.1")
                slack.wait_for_messages(before + 1, timeout=10)
                taken.append(time.perf_counter() - start)
                next_second()
                edits = len(slack.updates)
                sim.start_dyno(first, "web.1")
                wait_until(partial(edited_since, slack, edits), timeout=10)
    return taken


def budget_interval_500(apps: int = MANY, hours: float = 1.25) -> list[Row]:
    """The interval the rate budget gives `apps` apps of one team, configured at a 1-minute
    interval with HEROKU_RATE_SHARE_PERCENT=100, round after round as the leader runs them,
    on a clock moved on between rounds: the team watch's job picks the apps up (each read
    whole), fires once more alone a minute later, before the apps' own jobs (placed on the
    stretched interval's grid) come due (its lists only), then rounds of every app at the
    interval planned, for `hours`. Against what 4,500 requests/hour allow at the cost of a
    steady round, measured."""
    team = "bench-team"
    sim = Simulator(seed=4)
    sim.create_team(team)
    for i in range(apps):
        sim.create_app(f"team-app-{i:03d}", team=team)
    now = [datetime.now(UTC)]
    with (
        SimulatorServer(sim) as heroku,
        FakeSlack() as slack,
        tempfile.TemporaryDirectory() as workdir,
    ):
        settings = Settings(
            heroku_api_key=sim.token,
            slack_bot_token=slack.token,
            database_url=f"sqlite:///{workdir}/budget.db",
            heroku_api_url=heroku.url,
            slack_api_url=slack.url,
            monitored_team=team,
            check_interval_minutes=1,
            rate_share=1.0,
        )
        service = service_module.build(settings, clock=lambda: now[0])
        scheduler = service.scheduler
        start, minutes, costs = now[0], list[float](), list[int]()
        while now[0] - start < timedelta(hours=hours):
            lists_alone = len(minutes) < 2  # the pick-up, then the team's job alone again
            due = set() if lists_alone else {m.id for m in service.monitors.all()}
            refill(sim)  # the simulator's limit does not refill with a moved clock
            requests, _, _ = round_cost(sim, service, due)
            if not lists_alone:
                costs.append(requests)
            scheduler.reconcile()  # the leader's minute job plans with what rounds cost
            minutes.append(scheduler.interval_seconds(1) / 60)
            now[0] += timedelta(minutes=1 if lists_alone else minutes[-1])
        service.stop()
    # A steady round's cost, and what the hourly re-read of every app's releases and config
    # vars (core.rounds.SAFETY_NET, one round in the run) adds to the hour.
    steady, hourly = min(costs), max(costs) - min(costs)
    allows = 60 * steady / LIMIT
    with_hourly = 60 * steady / (LIMIT - hourly)
    shown = " / ".join(f"{m:.1f}" for m in minutes)
    return [
        (
            f"minutes between polls of {apps} team apps at a 1-min interval, 100% of "
            f"{LIMIT:,}/h, after each round for {hours:g} h: the pick-up, the lists alone, "
            "then every app",
            shown,
            f"{LIMIT:,}/h allows {allows:.1f} ({steady / apps:.2f} requests an app, a steady "
            f"round), {with_hourly:.1f} with the hourly re-read of details ({hourly:,} requests)",
        )
    ]


def print_table(rows: list[Row]) -> None:
    header: Row = ("measure", "heroku-monitor", "PRD-literal baseline")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def main() -> None:
    if "--soak" in sys.argv[1:]:  # the soak takes its own options (`soak.py --help`)
        soak.main([a for a in sys.argv[1:] if a != "--soak"])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--storms", action="store_true", help="measure only webhook storms")
    parser.add_argument("--logs", action="store_true", help="measure only log drains")
    parser.add_argument("--soak", action="store_true", help="the 90-day soak (bench/soak.py)")
    args = parser.parse_args()
    if args.storms:
        print_table(storm_rows())
        return
    if args.logs:
        print_table(logs_bench.rows())
        return
    rows: list[Row] = []
    sim = Simulator(seed=1)
    names = [f"bench-app-{i:03d}" for i in range(args.apps)]
    create_apps(sim, names)
    first = names[0]
    with (
        SimulatorServer(sim) as heroku,
        FakeSlack() as slack,
        tempfile.TemporaryDirectory() as workdir,
    ):
        service = build(heroku, sim, slack, workdir)
        share = service.settings.rate_share
        now = service.clock()
        ids = [service.monitors.add(n, "#alerts", 1, now) for n in names]
        everyone = set(ids)
        base = BaselineMonitor(
            heroku.url, sim.token, WebClient(slack.token, base_url=slack.url), "#alerts"
        )

        # -- cost of one check of one app alone ------------------------------------------
        ours_first = cost(sim, partial(service.checker.check, ids[0]))
        ours_steady = cost(sim, partial(service.checker.check, ids[0]))
        base_first = cost(sim, partial(base.check, first))
        base_steady = cost(sim, partial(base.check, first))
        rows.append(
            (
                "Heroku requests / KB, first check of one app alone",
                f"{ours_first[0]} / {ours_first[1] / 1e3:.1f}",
                f"{base_first[0]} / {base_first[1] / 1e3:.1f}",
            )
        )
        rows.append(
            (
                "Heroku requests / KB, each later check of one app alone",
                f"{ours_steady[0]} / {ours_steady[1] / 1e3:.1f}",
                f"{base_steady[0]} / {base_steady[1] / 1e3:.1f}",
            )
        )
        per_app_at = len(rows)  # the per-app round cost goes here, once 500 apps ran too

        # -- polling rounds, and whole checks, with 100 ms of latency ---------------------
        refill(sim)
        sim.set_latency(0.1)
        ours_first_round = timed(partial(service.scheduler.run_round, everyone))
        ours_round = round_cost(sim, service, everyone)
        ours_whole = timed(
            lambda: list(ThreadPoolExecutor(args.workers).map(service.checker.check, ids))
        )
        sample = names[:10]
        base_round = timed(partial(map_all, base.check, sample)) * len(names) / len(sample)
        sim.set_latency(0)
        service.scheduler.run_round({ids[0]})
        ours_one = round_cost(sim, service, {ids[0]})
        per_app = ours_round[0] / len(ids)

        # -- per hour at a 1-minute interval, against the limit ---------------------------
        for count, (requests, nbytes, _) in ((1, ours_one), (args.apps, ours_round)):
            plan = budget.plan([1] * count, share=share, requests_per_poll=requests / count)
            ours_requests = plan.planned_per_hour
            ours_bytes = nbytes * ours_requests / requests
            base_requests = base_steady[0] * 60 * count
            base_bytes = base_steady[1] * 60 * count
            rows.append(
                (
                    f"requests/hour, {count} app(s) every minute (limit {LIMIT:,})",
                    f"{ours_requests:,.0f} ({ours_requests / LIMIT:.0%})"
                    + (f", polled every {plan.seconds(1)} s" if plan.stretched else ""),
                    f"{base_requests:,.0f} ({base_requests / LIMIT:.0%})",
                )
            )
            rows.append(
                (
                    f"MB/hour, {count} app(s) every minute",
                    f"{ours_bytes / 1e6:.1f}",
                    f"{base_bytes / 1e6:.1f}",
                )
            )
        cadence_at = len(rows)  # the cadence of N and 500 apps goes here

        rows.append(
            (
                f"one polling round of {args.apps} apps, 100 ms latency",
                f"{ours_round[2]:.1f} s steady; first round (reads details) "
                f"{ours_first_round:.1f} s",
                f"{base_round:.1f} s (sequential; 10 measured, scaled)",
            )
        )
        rows.append(
            (
                f"{args.apps} whole checks of one app each, {args.workers} at a time, "
                "100 ms latency",
                f"{ours_whole:.1f} s (how the previous version polled)",
                f"{base_round:.1f} s (as above)",
            )
        )
        big_round_at = len(rows)  # one round of 500 apps goes here

        # -- crash to Slack post ----------------------------------------------------------
        before = len(slack.messages)
        sim.crash_dyno(first, "web.1")
        ours_poll = timed(partial(service.checker.check, ids[0]))
        slack.wait_for_messages(before + 1)
        sim.start_dyno(first, "web.1")
        service.checker.check(ids[0])
        base.check(first)
        next_second()
        before = len(slack.messages)
        sim.crash_dyno(first, "web.1")
        base_poll = timed(partial(base.check, first))
        slack.wait_for_messages(before + 1)
        sim.start_dyno(first, "web.1")
        base.check(first)
        rows.append(
            (
                "crash -> Slack, polling (1-min interval)",
                f"wait for the poll (avg 30 s) + {ours_poll * 1000:.0f} ms",
                f"wait for the poll (avg 30 s) + {base_poll * 1000:.0f} ms",
            )
        )

        service.stop()
        for monitor_id in ids[1:]:
            service.monitors.delete(monitor_id)
        refill(sim)
        live_service = build(heroku, sim, slack, workdir)
        with LiveSite(live_service) as live:
            # The leader polls at once only what is overdue: the first app may or may not be.
            live_service.checker.check(ids[0])
            wait_until(
                lambda: live_service.checker.last_check.ok is True and quiet(live_service),
                timeout=30,
            )
            sim.create_webhook(
                first,
                include=["dyno", "api:release"],
                level="sync",
                url=live.url + "/webhooks/heroku",
                secret=WEBHOOK_SECRET,
            )
            samples = []
            for _ in range(20):
                next_second()
                before = len(slack.messages)
                start = time.perf_counter()
                sim.crash_dyno(first, "web.1")
                slack.wait_for_messages(before + 1, timeout=10)
                samples.append(time.perf_counter() - start)
                next_second()
                edits = len(slack.updates)
                sim.start_dyno(first, "web.1")
                # Up again: the incident's message is edited (its thread goes on, one loop)
                wait_until(partial(edited_since, slack, edits), timeout=10)
            rows.append(("crash -> Slack, webhook", percentiles(samples), "no webhooks"))

            # -- /heroku-status latency ------------------------------------------------------
            client = create_app(live_service).test_client()
            for latency in (0.0, 2.0):
                sim.set_latency(latency)
                samples = []
                for _ in range(100 if latency == 0 else 20):
                    body, headers = signed_command(first, slack.response_url("bench"))
                    samples.append(
                        timed(partial(client.post, "/slack/commands", data=body, headers=headers))
                    )
                base_samples = [
                    timed(partial(base.status, first)) for _ in range(20 if latency == 0 else 2)
                ]
                rows.append(
                    (
                        f"/heroku-status p50 / p99, Heroku at {latency * 1000:.0f} ms",
                        percentiles(samples),
                        percentiles(base_samples),
                    )
                )
            sim.set_latency(0)

        # -- memory: the Python heap -----------------------------------------------------
        refill(sim)
        tracemalloc.start()
        memory_service = build(heroku, sim, slack, workdir)
        for name in names[1:]:
            memory_service.monitors.add(name, "#alerts", 1, now)
        memory_service.scheduler.run_round({m.id for m in memory_service.monitors.all()})
        ours_peak = tracemalloc.get_traced_memory()[1]
        memory_service.stop()
        tracemalloc.reset_peak()
        fresh = BaselineMonitor(
            heroku.url, sim.token, WebClient(slack.token, base_url=slack.url), "#alerts"
        )
        for name in names:
            fresh.check(name)
        base_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append(
            (
                f"peak Python heap (tracemalloc), {args.apps} apps: first round / each checked",
                f"{ours_peak / 1e6:.1f} MB",
                f"{base_peak / 1e6:.1f} MB",
            )
        )

        # -- 500 apps: a round's cost and time, the cadence, peak RSS ---------------------
        many = names + [f"bench-app-{i:03d}" for i in range(args.apps, MANY)]
        created = timed(partial(create_apps, sim, many[len(names) :]))
        refill(sim)
        with tempfile.TemporaryDirectory() as many_workdir:
            many_service = build(heroku, sim, slack, many_workdir)
            many_ids = {many_service.monitors.add(n, "#alerts", 1, now) for n in many}
            many_first = timed(partial(many_service.scheduler.run_round, many_ids))
            many_round = round_cost(sim, many_service, many_ids)
            many_service.stop()
        many_per_app = many_round[0] / len(many)
        base_many = timed(partial(map_all, base.check, many[:10])) * len(many) / 10
        ours_rss = peak_rss("ours", heroku, sim, slack, many)
        base_rss = peak_rss("baseline", heroku, sim, slack, many)

        rows.insert(
            big_round_at,
            (
                f"one polling round of {len(many)} apps, 0 ms latency",
                f"{many_round[2]:.1f} s steady; first round {many_first:.1f} s",
                f"{base_many:.1f} s (sequential; 10 measured, scaled)",
            ),
        )
        cadence: list[Row] = []
        for count, cost_per_app in ((args.apps, per_app), (len(many), many_per_app)):
            ours_plan = budget.plan([1] * count, share=share, requests_per_poll=cost_per_app)
            previous = budget.plan(
                [1] * count, share=share, requests_per_poll=budget.REQUESTS_PER_CHECK
            )
            base_requests = base_steady[0] * 60 * count
            cadence.append(
                (
                    f"{count} apps at a 1-minute interval, within {share:.0%} of {LIMIT:,}/h "
                    f"(previous version: every {previous.seconds(1)} s, "
                    f"{previous.planned_per_hour:,.0f} requests/h)",
                    f"polled every {ours_plan.seconds(1)} s "
                    f"({ours_plan.planned_per_hour:,.0f} requests/h)",
                    f"every 60 s, unthrottled: {base_requests:,.0f} requests/h "
                    f"({base_requests / LIMIT:.0%})",
                )
            )
        rows[cadence_at:cadence_at] = cadence
        rows.insert(
            per_app_at,
            (
                "Heroku requests per app, steady polling round "
                f"(previous version: {budget.REQUESTS_PER_CHECK}, one app at a time)",
                f"{per_app:.2f} ({args.apps} apps), {many_per_app:.2f} ({len(many)} apps)",
                f"{base_steady[0]} (a whole check of every app)",
            ),
        )
        rows.append(
            (
                f"peak RSS, {len(many)} apps, a process of its own: two rounds / each checked",
                f"{ours_rss / 1e6:.0f} MB",
                f"{base_rss / 1e6:.0f} MB",
            )
        )
        print(
            f"({len(many) - len(names)} more simulated apps created in {created:.1f} s)",
            file=sys.stderr,
        )

    rows.extend(budget_interval_500())
    rows.extend(storm_rows())
    rows.extend(logs_bench.rows())
    rows.extend(dashboard_bench.rows())
    rows.extend(pipeline_bench.rows())
    print_table(rows)


if __name__ == "__main__":
    main()
