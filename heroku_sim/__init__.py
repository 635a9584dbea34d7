"""A Heroku Platform API simulator for tests, benchmarks and `app.py --demo`.

sim = Simulator()
sim.create_app("demo-app")
with SimulatorServer(sim) as server:
    ...  # point the monitor at server.url with token sim.token
    sim.crash_dyno("demo-app", "web.1")

App webhooks created on the simulator (`POST /apps/{app}/webhooks`) receive signed
deliveries of the simulated changes; see `deliveries.py`.
"""

from heroku_sim.api import (
    ApiError,
    RangeSpec,
    SimulatorServer,
    build_api,
    paginate,
    parse_range,
)
from heroku_sim.deliveries import (
    HEROKU_SYNC_RETRY_DELAYS,
    SIGNATURE_HEADER,
    webhook_signature,
)
from heroku_sim.model import (
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

__all__ = [
    "ADDON_STATES",
    "DEFAULT_TOKEN",
    "DYNO_STATES",
    "HEROKU_REFILL_PER_MINUTE",
    "HEROKU_SYNC_RETRY_DELAYS",
    "RELEASE_STATUSES",
    "SIGNATURE_HEADER",
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
    "webhook_signature",
]
