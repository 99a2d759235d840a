"""A consensus run executed in a process of its own and held mid-fit, for a test to SIGKILL.

    python -m tests.quality.killable_run RUN_ID ENTERED_FILE

Django starts against the database DATABASE_URL names (the test passes its test database). The
run's fit creates ENTERED_FILE, then waits: the kill lands mid-run, inside the run's open
transaction, with its heartbeat thread beating. An orphan (its test died first) gives up after
five minutes instead of holding the job forever.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any


def main() -> None:
    run_id, entered = int(sys.argv[1]), Path(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    import django

    django.setup()
    from marketplace.quality import runs
    from marketplace.quality.tasks import consensus_execute_by_id

    def held_fit(*args: Any, **kwargs: Any) -> Any:
        entered.touch()
        threading.Event().wait(300)
        raise RuntimeError("held for five minutes and never killed")

    runs.aggregate = held_fit  # type: ignore[assignment]
    consensus_execute_by_id(run_id)  # what every runner calls


if __name__ == "__main__":
    main()
