"""python -m bench [name ...]: run the named benchmarks (all by default) and print their figures.

Each benchmark module exposes `run(argv: list[str]) -> None`. They need DATABASE_URL pointing at
PostgreSQL for meaningful figures; on SQLite they run but say so.
"""

from __future__ import annotations

import importlib
import os
import sys

BENCHMARKS = {
    "import": "bench.import_items",
    "assignment": "bench.assignment",
    "consensus": "bench.consensus",
    "consensus-run": "bench.consensus_run",
    "collusion": "bench.collusion",
    "http-load": "bench.http_load",
    "http-handler": "bench.http_handler",
    "export": "bench.export",
    "browse": "bench.browse",
    "label-studio-load": "bench.label_studio_load",
    "versus-label-studio": "bench.versus",
    "fair": "bench.fair_serving",
}
# Run only when named: the first two need a Label Studio server started by hand
# (bench/label_studio.md); fair is a simulation of a minute or more with its own server.
ON_REQUEST = {"label-studio-load", "versus-label-studio", "fair"}


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    import django

    django.setup()
    names = [a for a in argv if not a.startswith("-")] or [n for n in BENCHMARKS if n not in ON_REQUEST]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    for name in names:
        print(f"\n### {name}")
        importlib.import_module(BENCHMARKS[name]).run([a for a in argv if a.startswith("-")])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
