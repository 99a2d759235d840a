"""python -m bench [name ...] [--option=N ...]: run the named benchmarks (all by default) and print
their figures. `python -m bench --help` lists them; `python -m bench <name> --help` says what one
measures and the options it takes (unknown options are refused).

Each benchmark module exposes `run(argv: list[str]) -> None`. They need DATABASE_URL pointing at
PostgreSQL for meaningful figures; on SQLite they run but say so.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
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
    if "--help" in argv or "-h" in argv:  # before Django's set-up, which needs SECRET_KEY and a database
        return _help([a for a in argv if not a.startswith("-")])
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


def _help(names: list[str]) -> int:
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    if not names:
        print(__doc__)
        print("Benchmarks (* only when named):")
        for name, module in BENCHMARKS.items():
            summary = " ".join(_docstring(module).split("\n\n")[0].split())
            print(f"  {name}{' *' if name in ON_REQUEST else ''}: {summary}")
    for name in names:
        print(_docstring(BENCHMARKS[name]))
    return 0


def _docstring(module: str) -> str:
    """The module's docstring, read from its source: importing it would need Django set up."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    with open(spec.origin, encoding="utf-8") as source:
        return ast.get_docstring(ast.parse(source.read())) or module


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
