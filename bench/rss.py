"""Peak resident memory (RSS) of polling many apps, in a process of its own: run by
bench/bench.py against the Heroku simulator and fake Slack it serves.

    python bench/rss.py ours|ours-fresh|baseline HEROKU_URL HEROKU_TOKEN SLACK_URL \
        SLACK_TOKEN APP...

`ours` builds the service (as bench.build does, on a database of its own), adds a monitor
per app and runs two polling rounds (`run_round`: the first reads every app's details, the
second is the steady one). `baseline` checks each app once with the PRD-literal monitor
(bench/baseline.py). Each mode imports only what it runs, so the figure includes what its
code costs to load. Prints one JSON line: `peak_rss_kb`, `maxrss_kb` and the `seconds`
each round (ours) or the checks of every app (baseline) took.

The database is made (migrated) first by a process of its own, as every start of the
service after the first one finds it: migrating imports Alembic, which a process keeps
(~13 MB with the migration's own work; `ours-fresh` measures that first start instead).

`peak_rss_kb` is VmHWM from /proc/self/status: this process's own high-water mark.
`ru_maxrss` (getrusage, KB on Linux) is printed too, but is no use here: Linux carries the
high-water mark of the memory a process had before exec over into it, and before exec a
child started by subprocess has its parent's memory (fork, or vfork), so its ru_maxrss is
at least its parent's peak (the parent here holds the simulator: 500 apps' releases).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


ROOT = Path(__file__).resolve().parent.parent


def migrated(url: str) -> None:
    """Make the database at `url`, its schema the newest, in a process of its own."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
        "from heroku_monitor.store.database import open_database; "
        f"open_database({url!r}).close()"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def ours(
    heroku_url: str,
    heroku_token: str,
    slack_url: str,
    slack_token: str,
    apps: list[str],
    *,
    fresh: bool = False,
) -> list[float]:
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite:///{workdir}/rss.db"
        if not fresh:
            migrated(url)
        from heroku_monitor import service as service_module
        from heroku_monitor.settings import Settings

        settings = Settings(
            heroku_api_key=heroku_token,
            slack_bot_token=slack_token,
            database_url=url,
            heroku_api_url=heroku_url,
            slack_api_url=slack_url,
            slack_signing_secret="bench-signing-secret",
            heroku_webhook_secret="bench-webhook-secret",
        )
        service = service_module.build(settings)
        now = service.clock()
        ids = {service.monitors.add(app, "#alerts", 1, now) for app in apps}
        seconds = []
        for _ in range(2):
            start = time.perf_counter()
            service.scheduler.run_round(ids)
            seconds.append(time.perf_counter() - start)
        service.stop()
    return seconds


def baseline(
    heroku_url: str, heroku_token: str, slack_url: str, slack_token: str, apps: list[str]
) -> list[float]:
    from slack_sdk import WebClient

    from bench.baseline import BaselineMonitor

    monitor = BaselineMonitor(
        heroku_url, heroku_token, WebClient(slack_token, base_url=slack_url), "#alerts"
    )
    start = time.perf_counter()
    for app in apps:
        monitor.check(app)
    return [time.perf_counter() - start]


def peak_rss_kb(fallback: int) -> int:
    """This process's peak resident set (VmHWM), in KB; `fallback` without /proc."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return fallback


def main() -> None:
    mode, heroku_url, heroku_token, slack_url, slack_token, *apps = sys.argv[1:]
    runs: dict[str, Callable[[str, str, str, str, list[str]], list[float]]] = {
        "ours": ours,
        "ours-fresh": partial(ours, fresh=True),
        "baseline": baseline,
    }
    run = runs[mode]
    seconds = run(heroku_url, heroku_token, slack_url, slack_token, apps)
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"peak_rss_kb": peak_rss_kb(maxrss_kb), "maxrss_kb": maxrss_kb, "seconds": seconds}
        )
    )


if __name__ == "__main__":
    main()
