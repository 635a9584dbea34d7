"""A Platform API client for the simulator's tests (the `api` fixture, in conftest)."""

from __future__ import annotations

from typing import Any

import requests

ACCEPT = "application/vnd.heroku+json; version=3"


class Api:
    """A Platform API client for the tests: right headers unless told otherwise."""

    def __init__(self, base_url: str, token: str = "sim-token") -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.headers = {"Accept": ACCEPT, "Authorization": f"Bearer {token}"}

    def get(self, path: str, **headers: str) -> requests.Response:
        merged = {**self.headers, **{k.replace("_", "-"): v for k, v in headers.items()}}
        return self.session.get(self.base_url + path, headers=merged, timeout=5)

    def raw(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        return self.session.request(method, self.base_url + path, **kwargs)

    def control(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.session.request(method, self.base_url + path, json=body, timeout=5)
