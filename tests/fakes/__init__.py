"""Fakes of outside services, built from their published behaviour, for tests and benchmarks."""

from tests.fakes.slack_api import FakeSlack

__all__ = ["FakeSlack"]
