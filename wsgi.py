"""The WSGI entry point for gunicorn (see Procfile): `gunicorn wsgi:app`.

Each worker builds the service from the environment and starts its scheduler; the
database makes every alert go out once however many workers or dynos run. Do not use
gunicorn's --preload: the scheduler's threads would start in the master and die at fork.
"""

from __future__ import annotations

import os

from heroku_monitor.cli import serve_in_process

app = serve_in_process(os.environ)
