"""`python -m bench --help` lists the benchmarks and `python -m bench <name> --help` says what one
does, both at once and without SECRET_KEY (they crashed, and ran a 90-second load, before); an
option a benchmark does not take is refused by name rather than ignored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import (
    assignment,
    browse,
    consensus_run,
    export,
    fair_serving,
    http_load,
    import_items,
    label_studio_load,
    versus,
)

ROOT = Path(__file__).resolve().parents[2]


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)


def test_bench_help_lists_every_benchmark_without_any_configuration() -> None:
    result = bench("--help")

    assert result.returncode == 0, result.stderr
    assert "http-load: python -m bench http-load: a simulated crowd over real HTTP" in result.stdout
    assert "fair *:" in result.stdout  # run only when named


def test_help_of_one_benchmark_prints_its_options_and_runs_nothing() -> None:
    result = bench("http-load", "-h")

    assert result.returncode == 0, result.stderr
    assert "Options: --workers=200" in result.stdout
    assert "###" not in result.stdout  # the marker of a benchmark starting


def test_help_of_an_unknown_benchmark_names_the_ones_there_are() -> None:
    result = bench("http-lod", "--help")

    assert result.returncode == 2 and "unknown benchmark(s): http-lod; choose from import" in result.stdout


@pytest.mark.parametrize(
    ("parse", "argv", "said"),
    [
        (http_load._options, ["--wokers=8"], "unknown option '--wokers=8'; this benchmark takes --workers"),
        (http_load._options, ["--seconds=ten"], "--seconds takes a whole number, e.g. --seconds=90"),
        (assignment._options, ["--server=daphne"], "unknown option '--server=daphne'"),
        (fair_serving._options, ["--verbose"], "unknown option '--verbose'"),
        (browse._options, ["--item=10"], "unknown option '--item=10'; this benchmark takes --items, --repeat"),
        (export._judgments, ["--judgements=10"], "unknown option '--judgements=10'; this benchmark takes --judgments"),
        (consensus_run._judgments, ["--n=10"], "unknown option '--n=10'; this benchmark takes --judgments"),
        (import_items._items, ["--count=10"], "unknown option '--count=10'; this benchmark takes --items, --format"),
        (import_items._items, ["--items=many"], "--items takes a whole number"),
        (lambda argv: label_studio_load.options_parse(argv, label_studio_load.DEFAULTS), ["--worker=8"],
         "unknown option '--worker=8'; this benchmark takes --workers"),
        (versus.versus_options, ["--color=blue"], "unknown option '--color=blue'; this benchmark takes --workers"),
    ],
)
def test_an_option_a_benchmark_does_not_take_is_refused_by_name(parse, argv, said) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as refused:
        parse(argv)

    assert said in str(refused.value)


def test_the_options_a_benchmark_takes_still_parse() -> None:
    options = http_load._options(["--workers=1,8,200", "--server=daphne", "--seconds=5", "--items=100"])

    assert options["seconds"] == 5 and options["items"] == 100
    assert http_load._sizes(["--workers=1,8,200"], 200) == [1, 8, 200]
    assert fair_serving._options(["--stay-in-job", "--late=3"]) == ({**fair_serving.DEFAULTS, "late": 3}, True)
    assert browse._options(["--items=1000", "--repeat=3"]) == {"items": 1000, "repeat": 3}
    assert import_items._items(["--format=csv", "--items=50"]) == 50
    assert import_items._formats(["--format=csv,json"]) == ["csv", "json"]
    assert label_studio_load.options_parse(["--seed=4"], label_studio_load.DEFAULTS)["seed"] == 4
