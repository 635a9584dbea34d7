"""Fakes of outside services, built from their published behaviour, for tests and benchmarks."""

from tests.fakes.slack_api import FakeSlack
from tests.fakes.status_api import FakeStatusApi

__all__ = ["FakeSlack", "FakeStatusApi"]
