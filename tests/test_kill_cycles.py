"""SPEC §16, faults survived: the service process killed with `kill -9` at random moments
over 20 crash cycles of web.1. Every crash's alert arrives in Slack, in order, once (a post
the kill cut mid-way may repeat, SPEC §5), and `/healthz` tells the truth throughout: 200
from the live process, and no answer at all from a dead one.

One real process at a time (`python app.py` on a SQLite file), webhooks on, a 60-minute
interval (no poll comes to the rescue) and a 2-second polling lease. Each cycle restarts
web.1 (it is `starting`) and crashes it, delivering a webhook after each change as Heroku
does, and waits until the service has seen each change (the simulator's clock, moved a
minute at each change, gives each its own Heroku time: each crash is its own event). In
about a third of the cycles a seeded random kill hits one of the two deliveries at a random
moment: before its answer (Heroku then delivers it again, to the process started in its
place), between the 202 and the check, or mid-check (see `KILL_WITHIN` on posts). A process
is killed only once it leads (within two lease periods of the kill before, SPEC §13): one
killed mid-check before it ever led leaves a claim no new leader frees, answered when it
expires (76 s) by the leader's minute job, which
`test_a_webhook_whose_check_a_killed_follower_held_…` below shows on its own.

The processes run with a webhook debounce of 50 ms instead of 1 s (the in-process tests
shorten it the same way): two deliveries a cycle, 40 in all, would otherwise wait a second
each for the window of the one before. Each process is started as a spare ahead of its
time: it imports the product (most of a start's second) and waits; it is told to go, to
build and start the service, only once the process before it is dead.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from heroku_monitor.core.snapshot import heroku_time
from heroku_monitor.heroku.webhooks import SIGNATURE_HEADER, signature
from heroku_monitor.service import Service
from heroku_monitor.web import create_app
from heroku_sim import Simulator, SimulatorServer
from tests.fakes import FakeSlack
from tests.support.processes import env_for, free_port, go, start_warm, stop, wait_for_http
from tests.support.simulator import FakeClock
from tests.support.webhooks import SECRET, Hook, fresh
from tests.support.world import World

SEED = 1  # 7 kills: 4 at a restart (23 to 85 ms after the post), 3 at a crash (under 20 ms)
CYCLES = 20
KILL_SHARE = 1 / 3  # of the cycles
# Seconds after a delivery's post within which its kill lands: a restart's check ends by
# then (it posts nothing); a crash's kill lands before its alert's post, which starts about
# 25 ms after the delivery here (a kill mid-post holds the alert for the outbox's 29 s
# claim lease: tests/test_exactly_once.py shows that one; here it would triple the time).
KILL_WITHIN = {"restart": 0.09, "crash": 0.02}
LEASE = 2  # LEADER_LEASE_SECONDS: the least the settings allow
SEEN_WITHIN = 20.0  # seconds for the service to see a change, kills and restarts included
CRASH = "🚨 *ALERT: Dyno Crash Detected* 🚨"
# Run in each process before the service starts: its webhook debounce shortened (read when
# the scheduler is imported).
SHORTER_DEBOUNCE = "import heroku_monitor.runtime.triggers as t; t.DEBOUNCE = 0.05"


@dataclass
class Live:
    """The one service process of the moment, killed and started again."""

    processes: list[subprocess.Popen[str]]
    env: dict[str, str]
    process: subprocess.Popen[str] | None = None
    port: int = 0
    started: int = 0
    errors: list[str] = field(default_factory=list)  # the dead processes' stderr
    lock: threading.Lock = field(default_factory=threading.Lock)
    spare: subprocess.Popen[str] | None = None  # the next process, imported and waiting

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.spare is None:
            self.spare = start_warm(self.processes, self.env, SHORTER_DEBOUNCE)
        process, port = self.spare, free_port()
        go(process, port)
        # The next one imports meanwhile (this one's lead, the cycles), started when needed.
        self.spare = start_warm(self.processes, self.env, SHORTER_DEBOUNCE)
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
        # It leads within two lease periods of the kill (SPEC §13), before it is killed.
        wait_for("the new process leads", lambda: leads(port), timeout=30, step=0.05)
        with self.lock:
            self.process, self.port = process, port
        self.started += 1

    def now(self) -> tuple[subprocess.Popen[str], int]:
        with self.lock:
            assert self.process is not None
            return self.process, self.port

    def restart_if_killed(self, process: subprocess.Popen[str]) -> None:
        process.wait(10)
        self.errors.append(process.communicate(timeout=10)[1])
        self.start()


def leads(port: int) -> bool:
    answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    return bool(answer.json()["polling"]["this_process_leads"])


class HealthWatch(threading.Thread):
    """Asks the live process's /healthz over and over: what it says must be true."""

    def __init__(self, live: Live) -> None:
        super().__init__(daemon=True, name="healthz-watch")
        self.live = live
        self.answers = 0
        self.silent_while_dead = 0
        self.lies: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            process, port = self.live.now()
            dead_before = process.poll() is not None
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            except requests.RequestException:
                if process.poll() is not None:
                    self.silent_while_dead += 1
                continue
            finally:
                self.done.wait(0.02)
            self.answers += 1
            body = answer.json()
            if dead_before:
                self.lies.append(f"a dead process answered {answer.status_code}: {body}")
            elif answer.status_code != 200 or body["status"] != "ok":
                self.lies.append(f"a well process answered {answer.status_code}: {body}")
            elif body["scheduler"] != "running":
                self.lies.append(f"200 with the scheduler {body['scheduler']}")


def deliver(live: Live, kill_after: float | None) -> int | None:
    """A delivery of a new dyno event, as Heroku makes it: again, to whichever process
    serves now, until it is answered 2xx. `kill_after`: kill -9 the process that many
    seconds after the first post starts, then start another. Returns the first answer's
    status (None: the kill cut it)."""
    raw = json.dumps(fresh("api-dyno-create")).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature(SECRET, raw)}
    process, port = live.now()
    killer = None
    if kill_after is not None:
        killer = threading.Timer(kill_after, process.kill)
        killer.start()
    answered = None
    try:
        answered = requests.post(
            f"http://127.0.0.1:{port}/webhooks/heroku", data=raw, headers=headers, timeout=10
        ).status_code
    except requests.RequestException:
        assert killer is not None, "a live process did not answer a webhook"
    first = answered
    if killer is not None:
        killer.join()
        live.restart_if_killed(process)
    while answered is None:  # Heroku retries a delivery that was not answered
        answered = requests.post(
            f"{live.url}/webhooks/heroku", data=raw, headers=headers, timeout=10
        ).status_code
    assert answered in (200, 202), answered
    return first


class Seen:
    """What the service recorded, read from its SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path, timeout=10) as db:
            return db.execute(sql, args).fetchall()

    def web1(self) -> tuple[str, str] | None:
        """web.1's state and Heroku time in the kept snapshot."""
        rows = self._rows("SELECT snapshot FROM monitor_state WHERE snapshot IS NOT NULL")
        if not rows:
            return None
        (dyno,) = [d for d in json.loads(rows[0][0])["dynos"] if d["name"] == "web.1"]
        return dyno["state"], dyno["updated_at"]

    def pending(self) -> int:
        return int(self._rows("SELECT count(*) FROM alerts WHERE status = 'pending'")[0][0])

    def alert(self, event_key: str) -> tuple[str, str | None] | None:
        """The status and Slack ts of the message that alerted this event."""
        rows = self._rows(
            "SELECT a.status, a.slack_ts FROM alert_events e JOIN alerts a ON a.id = e.alert_id"
            " WHERE e.key = ?",
            event_key,
        )
        return rows[0] if rows else None


def wait_for(what: str, condition, timeout: float = SEEN_WITHIN, step: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(step)


def test_kill_9_at_random_moments_over_20_crash_cycles_loses_no_alert_and_healthz_tells_the_truth(
    processes, sqlite_url: str
):
    rng = random.Random(SEED)
    clock = FakeClock()
    sim = Simulator(seed=SEED, clock=clock)
    sim.create_app("my-app")
    seen = Seen(Path(sqlite_url.removeprefix("sqlite:///")))
    began = time.monotonic()
    with SimulatorServer(sim) as heroku, FakeSlack() as slack:
        env = {
            **env_for(heroku, sim, slack, sqlite_url),
            "HEROKU_WEBHOOK_SECRET": SECRET,
            "CHECK_INTERVAL_MINUTES": "60",
            "LEADER_LEASE_SECONDS": str(LEASE),
        }
        live = Live(processes, env)
        live.start()
        wait_for("the first check", lambda: seen.web1() is not None)
        watch = HealthWatch(live)
        watch.start()
        crashes: list[str] = []  # each crash's event key, in order
        kills: list[tuple[int, str, float, int | None]] = []
        for cycle in range(CYCLES):
            kill = rng.random() < KILL_SHARE
            when = rng.choice(["restart", "crash"]) if kill else ""
            delay = rng.uniform(0, KILL_WITHIN[when or "restart"])
            for change in ("restart", "crash"):
                clock.advance(minutes=1)
                (sim.restart_dyno if change == "restart" else sim.crash_dyno)("my-app", "web.1")
                stamp = heroku_time(clock.now.replace(microsecond=0))
                answer = deliver(live, delay if when == change else None)
                if when == change:  # what the kill cut: the answer, or what came after
                    kills.append((cycle, change, round(delay, 3), answer))
                state = "starting" if change == "restart" else "crashed"
                wait_for(
                    f"cycle {cycle}: the {change} at {stamp} (kills so far: {kills})",
                    lambda state=state, stamp=stamp: seen.web1() == (state, stamp),
                )
            crashes.append(f"m1:my-app:dyno_crashed:web.1:{stamp}")
            wait_for(f"cycle {cycle}: the crash's alert", lambda: seen.alert(crashes[-1]))
            # Its messages are sent before the next change (no restart's kill cuts a post).
            wait_for(f"cycle {cycle}: the outbox sent", lambda: seen.pending() == 0)
        cycles_took = time.monotonic() - began

        # Every crash's message reaches Slack (a post a kill cut may wait out its lease).
        wait_for(
            "every crash's alert sent",
            lambda: all((seen.alert(k) or ("", None))[0] == "sent" for k in crashes),
            timeout=60,
        )
        process, port = live.now()
        assert leads(port)
        watch.done.set()
        watch.join(10)
        errors = [*live.errors, stop(process)]

    sent = [seen.alert(k)[1] for k in crashes]  # type: ignore[index]
    posted = [m for m in slack.messages if m["text"].split("\n")[0] == CRASH]
    at = {m["ts"]: n for n, m in enumerate(posted)}
    # Once each: 20 messages, posts and thread replies, each crash its own.
    assert len(set(sent)) == CYCLES and all(ts in at for ts in sent), (sent, posted)
    # In order: the crashes' messages arrived as the crashes happened.
    assert [at[ts] for ts in sent] == sorted(at[ts] for ts in sent)
    # Repeats: only a post a kill cut after Slack had it (never answered, sent again).
    repeats = [m for m in posted if m["ts"] not in set(sent)]
    assert len(repeats) <= len(kills), (repeats, kills)
    assert watch.lies == [], watch.lies
    assert watch.answers > CYCLES
    assert all("Traceback" not in err for err in errors), [e for e in errors if "Traceback" in e]
    took = time.monotonic() - began
    print(
        f"{CYCLES} cycles, {len(kills)} kills {kills}, {live.started} processes, "
        f"{len(repeats)} repeats, {watch.answers} /healthz answers, "
        f"{watch.silent_while_dead} unanswered while dead; cycles {cycles_took:.1f} s, "
        f"all {took:.1f} s"
    )


# -- the rule the kill cycles found missing: a webhook's trigger outlives its process -------


def _killed_after_answering(world: World, lease: int) -> tuple[Service, int]:
    """A leading process that answered a crash's webhook 202 and then died: its scheduler
    never ran (no check followed), its lease still holds."""
    dead = world.service(heroku_webhook_secret=SECRET, leader_lease_seconds=lease)
    (monitor,) = dead.monitors.all()
    dead.checker.check(monitor.id)  # the baseline
    assert dead.leadership.tend()[0]
    world.sim.crash_dyno("my-app", "web.1")
    answer = Hook(dead, create_app(dead).test_client()).deliver(fresh("api-dyno-create"))
    assert answer.status_code == 202 and world.slack.messages == []
    return dead, monitor.id


def test_a_webhook_answered_by_a_process_killed_before_its_check_is_checked_by_the_next_to_start(
    world: World,
):
    dead, _ = _killed_after_answering(world, lease=30)
    after = world.service(heroku_webhook_secret=SECRET, leader_lease_seconds=30)
    after.scheduler.start()  # the dead leader's lease holds: this process does not lead
    try:
        assert not after.scheduler.leading
        world.slack.wait_for_messages(1, timeout=10)
    finally:
        after.scheduler.shutdown()
        dead.db.engine.dispose()
    assert world.slack.messages[0]["text"].startswith(CRASH)


def test_a_webhook_whose_check_a_killed_leader_held_is_checked_by_the_next_leader(world: World):
    after = world.service(heroku_webhook_secret=SECRET, leader_lease_seconds=2)
    dead, monitor_id = _killed_after_answering(world, lease=2)
    # It died mid-check: its claim on the app holds for minutes.
    assert dead.checker.claims.claim(monitor_id, dead.clock(), ask_again=False)
    after.scheduler.start()
    assert not after.scheduler.leading  # the dead leader's lease holds for 2 s
    try:
        # Heroku's next delivery for the app reaches the new process: its check waits for
        # the dead one's, which never ends.
        hook = Hook(after, create_app(after).test_client())
        assert hook.deliver(fresh("api-dyno-create")).status_code == 202
        wait_for("the new process leads", lambda: after.scheduler.leading, timeout=10)
        world.slack.wait_for_messages(1, timeout=10)
    finally:
        after.scheduler.shutdown()
        dead.db.engine.dispose()
    assert [m["text"].split("\n")[0] for m in world.slack.messages] == [CRASH]


def test_a_delivery_seen_by_a_process_killed_before_its_answer_is_not_lost_as_a_duplicate(
    world: World,
):
    dead = world.service(heroku_webhook_secret=SECRET, leader_lease_seconds=30)
    (monitor,) = dead.monitors.all()
    dead.checker.check(monitor.id)  # the baseline
    assert dead.leadership.tend()[0]
    world.sim.crash_dyno("my-app", "web.1")
    delivery = fresh("api-dyno-create")
    # It recorded the delivery as seen, then died before opening the check's window.
    assert dead.scheduler.first_sighting(f"event:{delivery['id']}", [monitor.id])
    after = world.service(heroku_webhook_secret=SECRET, leader_lease_seconds=30)
    after.scheduler.start()
    try:
        # Heroku sends it again (it had no answer): a duplicate now, ignored.
        answer = Hook(after, create_app(after).test_client()).deliver(delivery)
        assert answer.status_code == 200 and answer.json["duplicate"]
        world.slack.wait_for_messages(1, timeout=10)
    finally:
        after.scheduler.shutdown()
        dead.db.engine.dispose()
    assert world.slack.messages[0]["text"].startswith(CRASH)


def test_a_webhook_whose_check_a_killed_follower_held_is_checked_by_the_leader_within_minutes(
    world: World,
):
    leader = world.service(heroku_webhook_secret=SECRET)
    leader.scheduler.start()  # it leads, and its first round is the baseline
    try:
        wait_for("the baseline", lambda: leader.scheduler.rounds >= 1, timeout=10)
        world.sim.crash_dyno("my-app", "web.1")
        # A process that did not lead answered a delivery and died mid-check, two
        # minutes ago: its claim has expired, and no new leader freed it.
        follower = world.service(heroku_webhook_secret=SECRET)
        (monitor,) = follower.monitors.all()
        then = follower.clock() - timedelta(minutes=2)
        follower.checker.claims.webhook_window(monitor.id, then, 1.0)
        assert follower.checker.claims.claim(monitor.id, then, ask_again=False)
        follower.db.engine.dispose()
        leader.scheduler._reconcile()  # its minute job
        world.slack.wait_for_messages(1, timeout=10)
    finally:
        leader.scheduler.shutdown()
    assert world.slack.messages[0]["text"].startswith(CRASH)
