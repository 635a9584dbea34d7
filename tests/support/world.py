"""A small world for tests: the simulator and a fake Slack on 127.0.0.1, and settings
that point the service at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from heroku_monitor import service as service_module
from heroku_monitor.service import Patience, Service
from heroku_monitor.settings import Settings
from heroku_sim import Simulator, SimulatorServer
from tests.fakes import FakeSlack

APP = "my-app"
# Real retries, without real back-off: fault tests wait on nothing but the fakes.
QUICK = Patience(heroku_backoff=0.01, slack_backoff=0.01)


@dataclass
class World:
    sim: Simulator
    heroku: SimulatorServer
    slack: FakeSlack
    database_url: str

    def settings(self, **changes: Any) -> Settings:
        settings = Settings(
            heroku_api_key=self.sim.token,
            slack_bot_token=self.slack.token,
            monitored_app_name=APP,
            slack_channel="#alerts",
            database_url=self.database_url,
            heroku_api_url=self.heroku.url,
            slack_api_url=self.slack.url,
        )
        return replace(settings, **changes)

    def service(self, patience: Patience = QUICK, **changes: Any) -> Service:
        return service_module.build(self.settings(**changes), patience=patience)

    def baseline(self, **changes: Any) -> tuple[Service, int]:
        """A service whose first monitor has had its first (baseline) check."""
        service = self.service(**changes)
        monitor_id = first_monitor(service)
        service.checker.check(monitor_id)
        return service, monitor_id

    def texts(self) -> list[str]:
        return [m["text"] for m in self.slack.messages]


@contextmanager
def clocked_world(database_url: str, clock: Callable[[], datetime]) -> Iterator[World]:
    """The `world` fixture's world, its simulator on a clock the test moves."""
    sim = Simulator(seed=7, clock=clock)
    sim.create_app(APP)
    with SimulatorServer(sim) as heroku, FakeSlack() as slack:
        yield World(sim, heroku, slack, database_url)


def first_monitor(service: Service) -> int:
    return service.monitors.all()[0].id
