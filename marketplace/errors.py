"""Domain errors and the one error body. Services raise these; `marketplace.api.exceptions` maps
them to HTTP once, and the pages' JSON calls answer with the same body."""

from __future__ import annotations

from typing import Any


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """Every error answer's body: {"error": {"code", "message", "details"}}."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


class ApplicationError(Exception):
    """A rule of the marketplace was broken; the message tells the user what to do."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(ApplicationError):
    """The object does not exist *for this requester* (another tenant's ids look absent)."""

    code = "not_found"
    status = 404


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    status = 403


class Conflict(ApplicationError):
    """The request was valid but the state moved on (lease taken, job not open...)."""

    code = "conflict"
    status = 409


class NotQualified(ApplicationError):
    code = "not_qualified"
    status = 403


class Unavailable(ApplicationError):
    """A service the action needs is down for now (the task broker); asking again later works.
    Answered 503 with Retry-After: `retry_after` seconds."""

    code = "unavailable"
    status = 503

    def __init__(self, message: str, *, retry_after: int = 30, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class NothingLeft(ApplicationError):
    code = "no_work"
    status = 404


class Busy(Conflict):
    """Work is left, but other workers' requests hold it this instant (a claim passes over items
    they lock rather than queue behind them); they commit within moments, so asking again after
    `retry_after` seconds finds it. Answered 409 with Retry-After, and `retry_after` in details
    (a submit's `next_error` has no header of its own)."""

    code = "busy"

    def __init__(self, message: str, *, retry_after: int = 1, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"retry_after": retry_after, **(details or {})})
        self.retry_after = retry_after
