"""marketplace/consensus stays pure, and it alone talks to crowd-kit."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
CONSENSUS = PROJECT / "marketplace" / "consensus"
FRAMEWORKS = {"django", "rest_framework", "channels"}
NOT_PROJECT_CODE = {".venv", ".tools", ".git", "var", "node_modules", "static", "templates"}


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    package = path.relative_to(PROJECT).with_suffix("").parts[:-1]
    return imports_in(path.read_text(), package)


def imports_in(source: str, package: tuple[str, ...]) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`; relative imports are resolved
    against `package`, so `from .. import x` shows up as what it really reaches."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:
                # `from marketplace import jobs` reaches marketplace.jobs: report the leaf.
                yield node.lineno, f"{module}.{alias.name}" if module else alias.name


def project_python_files() -> Iterator[Path]:
    for path in PROJECT.rglob("*.py"):
        if not NOT_PROJECT_CODE.intersection(path.relative_to(PROJECT).parts):
            yield path


def is_forbidden_in_consensus(module: str) -> bool:
    top = module.split(".")[0]
    if top in FRAMEWORKS:
        return True
    return top == "marketplace" and not module.startswith("marketplace.consensus")


def test_the_consensus_package_imports_no_framework_and_no_other_marketplace_app() -> None:
    files = sorted(CONSENSUS.rglob("*.py"))
    assert len(files) >= 5, "the guard found nothing to check"
    offences = [
        f"{path.relative_to(PROJECT)}:{line} imports {module}"
        for path in files
        for line, module in imported_modules(path)
        if is_forbidden_in_consensus(module)
    ]
    assert offences == []


def test_only_the_consensus_package_imports_crowd_kit() -> None:
    importers = {
        path.relative_to(PROJECT).as_posix()
        for path in project_python_files()
        for _, module in imported_modules(path)
        if module.split(".")[0] == "crowdkit"
    }
    outside = sorted(p for p in importers if not p.startswith("marketplace/consensus/"))
    assert outside == []
    assert "marketplace/consensus/methods.py" in importers  # the guard sees real imports


def test_the_guard_catches_a_relative_import_that_leaves_the_package() -> None:
    source = "from ..jobs import models\nfrom .types import Votes\n"
    found = [module for _, module in imports_in(source, ("marketplace", "consensus"))]
    assert found == ["marketplace.jobs.models", "marketplace.consensus.types.Votes"]
    assert is_forbidden_in_consensus(found[0]) and not is_forbidden_in_consensus(found[1])


def test_importing_the_consensus_package_loads_no_django_at_run_time() -> None:
    # Catches what a static walk cannot: a dependency that pulls Django in behind our back.
    probe = (
        "import sys, marketplace.consensus\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{sorted(FRAMEWORKS)!r} or (m.startswith('marketplace.') "
        "and not m.startswith('marketplace.consensus')))\n"
        "print(loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
