"""When what let a user in changes: a new password (by any path), an account deactivated or
deleted, a new role or organization.

A page request re-checks the session every time, but some connections are checked once, when
they open: realtime's WebSockets. Whoever holds such connections must drop them when this
happens, or a stolen session's socket outlives the password change meant to end it. accounts
cannot import the layers that hold them (realtime sits above it), so they register a listener
at start-up (their AppConfig.ready) and accounts calls every listener. Called inside the
caller's transaction: a listener acts on commit, so a rolled-back change drops nothing.
"""

from __future__ import annotations

from typing import Protocol


class Listener(Protocol):
    def __call__(self, *, user_id: int) -> None: ...


_LISTENERS: list[Listener] = []


def access_listener_register(listener: Listener) -> None:
    """Add a listener (idempotent: registering the same function twice keeps one)."""
    if listener not in _LISTENERS:
        _LISTENERS.append(listener)


def user_access_changed(*, user_id: int) -> None:
    """Tell every listener that connections opened by this user so far must be checked again."""
    for listener in _LISTENERS:
        listener(user_id=user_id)
