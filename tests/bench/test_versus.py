"""The side-by-side benchmark's parts that need no Label Studio: options, table, ratios."""

from __future__ import annotations

import pytest

from bench.label_studio_load import LoadResult, target_from_env
from bench.versus import LABEL_STUDIO, QUORUM, VersusOptions, ratios, table_text, versus_options


def _result(system: str, workers: int, judgments: int, seconds: float, cpu: float | None = None) -> LoadResult:
    result = LoadResult(system=system, workers=workers, judgments=judgments, seconds=seconds, cpu_seconds=cpu)
    result.latencies["submit"] = [0.010, 0.020, 0.030, 0.040]
    return result


def test_it_defaults_to_one_and_eight_workers_thirty_seconds_two_rounds():
    assert versus_options([]) == VersusOptions(workers=(1, 8), seconds=30, rounds=2)


def test_it_reads_the_worker_counts_seconds_and_rounds():
    options = versus_options(["--workers=1,8,16", "--seconds=20", "--rounds=1", "--server=daphne"])
    assert (options.workers, options.seconds, options.rounds, options.server) == ((1, 8, 16), 20, 1, "daphne")


@pytest.mark.parametrize("arg", ["--workers=", "--workers=1,x", "--workers=0", "--seconds=ten",
                                 "--server=apache", "--color=blue"])
def test_it_refuses_a_bad_option_rather_than_measuring_something_else(arg):
    with pytest.raises(SystemExit):
        versus_options([arg])


def test_the_ratio_is_total_judgments_over_total_seconds_across_rounds():
    results = [
        _result(LABEL_STUDIO, 8, judgments=100, seconds=10),  # 10/s
        _result(LABEL_STUDIO, 8, judgments=300, seconds=10),  # 30/s: 400 in 20 s is 20/s overall
        _result(QUORUM, 8, judgments=4000, seconds=20),  # 200/s
        _result(LABEL_STUDIO, 1, judgments=0, seconds=10),
        _result(QUORUM, 1, judgments=50, seconds=10),
    ]
    assert ratios(results) == {1: None, 8: pytest.approx(10.0)}


def test_the_table_has_a_row_per_run_and_a_ratio_per_worker_count():
    results = [_result(LABEL_STUDIO, 1, 96, 10, cpu=9.6), _result(QUORUM, 1, 1200, 10, cpu=6.0)]
    text = table_text(results)
    rows = text.splitlines()
    assert rows[0].split()[:3] == ["system", "workers", "judgments/s"]
    assert rows[2].split() == ["Label", "Studio", "1", "9.6", "20.0", "40.0", "100.0", "0"]
    assert rows[3].split() == ["Quorum", "1", "120.0", "20.0", "40.0", "5.0", "0"]
    assert rows[4] == "ratio Quorum/Label Studio at 1 workers: 12.5x"


def test_a_run_without_a_known_server_pid_shows_no_cpu_figure():
    assert "n/a" in table_text([_result(LABEL_STUDIO, 1, 10, 1.0, cpu=None)]).splitlines()[2]


def test_reported_quantiles_stand_in_for_samples():
    result = LoadResult(system=QUORUM, workers=1, judgments=1, seconds=1.0,
                        quantiles={"submit": {50: 3.5, 95: 7.0, 99: 9.0}})
    assert result.latency_ms("submit", 99) == 9.0


def test_without_url_or_token_label_studio_is_not_configured():
    assert target_from_env({}) is None
    assert target_from_env({"LABEL_STUDIO_URL": "http://127.0.0.1:9"}) is None
    target = target_from_env({"LABEL_STUDIO_URL": "http://127.0.0.1:9/", "LABEL_STUDIO_TOKEN": "t",
                              "LABEL_STUDIO_WORKER_TOKENS": "a, b,", "LABEL_STUDIO_PID": "123"})
    assert target is not None
    assert (target.url, target.worker_tokens, target.pid) == ("http://127.0.0.1:9", ("a", "b"), 123)
