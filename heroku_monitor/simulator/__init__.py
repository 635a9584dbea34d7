"""A Heroku Platform API simulator for tests, benchmarks and `app.py --demo`.

sim = Simulator()
sim.create_app("demo-app")
with SimulatorServer(sim) as server:
    ...  # point the monitor at server.url with token sim.token
    sim.crash_dyno("demo-app", "web.1")
"""

from heroku_monitor.simulator.model import (
    ADDON_STATES,
    DEFAULT_TOKEN,
    DYNO_STATES,
    HEROKU_REFILL_PER_MINUTE,
    RELEASE_STATUSES,
    ConflictError,
    Fault,
    InvalidParamsError,
    Simulator,
    SimulatorError,
    UnknownAppError,
    UnknownResourceError,
)
from heroku_monitor.simulator.server import (
    ApiError,
    RangeSpec,
    SimulatorServer,
    build_api,
    paginate,
    parse_range,
)

__all__ = [
    "ADDON_STATES",
    "DEFAULT_TOKEN",
    "DYNO_STATES",
    "HEROKU_REFILL_PER_MINUTE",
    "RELEASE_STATUSES",
    "ApiError",
    "ConflictError",
    "Fault",
    "InvalidParamsError",
    "RangeSpec",
    "Simulator",
    "SimulatorError",
    "SimulatorServer",
    "UnknownAppError",
    "UnknownResourceError",
    "build_api",
    "paginate",
    "parse_range",
]
