"""python -m bench.consensus: the accuracy grid on a folder of data sets, without the timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace.consensus import METHODS

from bench.consensus import _methods, run


@pytest.fixture
def data_folder(tmp_path: Path) -> Path:
    """One data set: 20 items, 4 workers each; w0-w2 always right, w3 always says "no"."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    answers = [
        (f"i{i}", f"w{w}", "no" if w == 3 else ("yes" if i % 2 else "no"))
        for i in range(20)
        for w in range(4)
    ]
    (folder / "answers.csv").write_text(
        "item,worker,label\n" + "".join(f"{i},{w},{label}\n" for i, w, label in answers)
    )
    (folder / "truth.csv").write_text(
        "item,label\n" + "".join(f"i{i},{'yes' if i % 2 else 'no'}\n" for i in range(20))
    )
    return tmp_path


def test_the_datasets_grid_prints_every_row_and_the_verdict_without_timing(
    data_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = ["--datasets", "--data", str(data_folder), "--methods", "mv,quorum"]
    run([*grid, "--no-timing", "--repeat", "2"])
    out = capsys.readouterr().out
    assert "1,000,000" not in out and "crowd-kit" not in out  # no timing
    assert "seeds 0..1" in out and "tiny: 20 items, 4 workers, 80 judgments" in out
    rows = [line for line in out.splitlines() if line.startswith("tiny ")]
    assert len(rows) == 6  # K = 2, 3 and full (4), without and with gold
    assert all("1.0000 sd.000 se.000*" in line for line in rows)  # some method is always right
    assert "quorum ok in" in out


def test_the_grid_prints_as_markdown(
    data_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = ["--datasets", "--data", str(data_folder), "--methods", "mv,quorum"]
    run([*grid, "--no-timing", "--repeat", "1", "--markdown"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert lines[0] == "| data set | gold | K | n | `mv` | `quorum` | `quorum` ok |"
    assert len(lines) == 2 + 6 and lines[2].startswith("| tiny (20 items, 4 workers")


def test_an_unknown_method_is_refused(data_folder: Path) -> None:
    with pytest.raises(SystemExit):
        run(["--datasets", "--no-timing", "--data", str(data_folder), "--methods", "mv,best"])


def test_methods_all_puts_every_other_method_after_the_default_four() -> None:
    everything = _methods("all")
    assert everything[:4] == ("mv", "wawa", "ds", "quorum")
    assert set(everything) == set(METHODS) and len(everything) == len(METHODS)
    assert _methods("quorum,glad") == ("quorum", "glad")


def test_zero_repeats_is_refused(data_folder: Path) -> None:
    with pytest.raises(SystemExit):
        run(["--datasets", "--no-timing", "--data", str(data_folder), "--repeat", "0"])


def test_crowds_grids_only_the_named_synthetic_crowds(capsys: pytest.CaptureFixture[str]) -> None:
    run(["--synthetic", "--crowds", "small-job", "--no-timing", "--repeat", "1", "--methods", "mv"])
    out = capsys.readouterr().out
    assert "small-job: synthetic, 170 items, 20 workers, 6 labels" in out
    assert "sparse" not in out and "power-law" not in out


def test_an_unknown_crowd_is_refused() -> None:
    with pytest.raises(SystemExit):
        run(["--synthetic", "--no-timing", "--crowds", "small-job,dense"])
