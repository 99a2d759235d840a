"""Work to run once the current transaction commits, without failing the request that committed.

`transaction.on_commit(..., robust=True)` logs a callback that raises instead of raising it,
but it names the callback by `__qualname__`, which a bare functools.partial lacks: the log line
itself then raised AttributeError out of a request whose transaction had already committed (a
worker saw an error for an answer that was saved). Every robust callback with arguments goes
through here, named after the function it calls.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, update_wrapper
from typing import Any

from django.db import transaction


def on_commit_robust(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Call func(*args, **kwargs) after commit; an exception it raises is logged, not raised."""
    transaction.on_commit(update_wrapper(partial(func, *args, **kwargs), func), robust=True)
