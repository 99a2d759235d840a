"""gunicorn.conf.py's worker hook: what start-up loaded is kept out of the garbage collector's passes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# In a process of its own: freezing the test process's objects would change every later test's GC.
_PROBE = """
import gc, json, runpy
import django.urls  # stands for the application a worker has loaded by then
conf = runpy.run_path("gunicorn.conf.py")
before = gc.get_freeze_count()
conf["post_worker_init"](None)
print(json.dumps({"before": before, "frozen": gc.get_freeze_count(), "threshold": gc.get_threshold(),
                  "configured": list(conf["GC_THRESHOLD"])}))
"""


def test_a_worker_freezes_what_its_start_up_loaded_and_collects_young_objects_less_often() -> None:
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == 0
    assert seen["frozen"] > 10_000  # Django's modules alone are tens of thousands of objects
    assert seen["threshold"] == seen["configured"]
    assert seen["threshold"][0] > 700  # Python's default
