"""What a Heroku API call can fail with: Heroku's error bodies `{"id": ..., "message": ...}`
and the failures of the transport, as typed errors whose `str()` is one sentence."""

from __future__ import annotations


class HerokuError(Exception):
    """A Heroku API call failed; `str()` is one sentence for a person."""

    reason = "error"

    def __init__(self, message: str, *, status: int | None = None, error_id: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id

    def __str__(self) -> str:
        prefix = f"{self.status} " if self.status else ""
        return f"{prefix}{self.reason}: {self.args[0]}"


class Unauthorized(HerokuError):
    reason = "invalid token"


class Forbidden(HerokuError):
    reason = "forbidden"


class NotFound(HerokuError):
    reason = "not found"


class RateLimited(HerokuError):
    reason = "rate limited"


class Unavailable(HerokuError):
    """Heroku did not answer usefully: 5xx, a timeout, no connection or malformed JSON."""

    reason = "unavailable"


BY_STATUS: dict[int, type[HerokuError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    429: RateLimited,
}
