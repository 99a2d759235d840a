"""Domain errors. Services raise these; `marketplace.exceptions` maps them to HTTP once."""

from __future__ import annotations

from typing import Any


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


class NothingLeft(ApplicationError):
    code = "no_work"
    status = 404
