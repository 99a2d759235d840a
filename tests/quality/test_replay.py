"""python manage.py replay DIR: a crowd data set in, consensus accuracy on the truth out."""

from __future__ import annotations

import io
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from marketplace.consensus import accuracy, aggregate, load_dataset, split_gold, subsample
from marketplace.jobs.models import Item, Job
from marketplace.consensus.reference import crowdkit_ds_labels
from marketplace.labeling.models import Judgment
from marketplace.quality import runs
from marketplace.quality.models import ConsensusRun

pytestmark = pytest.mark.django_db
DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
KEYS = {"accuracy", "method", "items_scored", "items", "workers", "judgments", "seconds"}


def _replay(folder: Path, *args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("replay", str(folder), "--json", *args, stdout=out)
    report: dict[str, Any] = json.loads(out.getvalue())
    return report


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    """Names no job would choose: spaces, commas, unicode; labels that are not valid keys."""
    answers = [
        ("photo 1, left", "anna maria", "big cat"),
        ("photo 1, left", "bo", "big cat"),
        ("photo 1, left", "çelik", "small dog"),
        ("φωτο-2", "anna maria", "small dog"),
        ("φωτο-2", "bo", "small dog"),
        ("φωτο-2", "çelik", "big cat"),
        ("φωτο-2", "bo", "big cat"),  # bo changes their mind: the last row counts
        ("x" * 250, "anna maria", "big cat"),
        ("x" * 250, "bo", "big cat"),
    ]
    truth = [
        ("photo 1, left", "big cat"),
        ("φωτο-2", "small dog"),
        ("x" * 250, "big cat"),
        ("never judged", "big cat"),
    ]
    (tmp_path / "answers.csv").write_text(
        "item,worker,label\n" + "".join(f'"{i}","{w}","{label}"\n' for i, w, label in answers)
    )
    (tmp_path / "truth.csv").write_text(
        "item,label\n" + "".join(f'"{i}","{label}"\n' for i, label in truth)
    )
    return tmp_path


def test_any_folder_in_the_format_replays_with_the_last_repeated_judgment_kept(
    odd_folder: Path,
) -> None:
    report = _replay(odd_folder, "--method", "mv")
    assert KEYS <= set(report)
    assert (report["items"], report["workers"], report["judgments"]) == (3, 3, 8)
    assert report["items_scored"] == 3 and report["accuracy"] == pytest.approx(
        2 / 3
    )  # φωτο-2 lost: bo's last word
    assert report["repeated_rows_dropped"] == 1 and report["method"] == "mv"
    assert Judgment.objects.filter(job_id=report["job_id"]).count() == 8
    assert ConsensusRun.objects.get(pk=report["run_id"]).trigger == ConsensusRun.Trigger.REPLAY


def test_gold_items_come_from_the_truth_and_are_not_scored(odd_folder: Path) -> None:
    report = _replay(odd_folder, "--gold-fraction", "0.5", "--seed", "3")
    assert report["gold_items"] + report["items_scored"] == 3 and report["gold_items"] >= 1


def test_a_folder_without_answers_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="answers.csv"):
        call_command("replay", str(tmp_path))


def test_a_file_whose_every_row_has_a_blank_cell_is_refused_and_makes_no_job(tmp_path: Path) -> None:
    (tmp_path / "answers.csv").write_text("item,worker,label\na,w1,\n,w2,cat\n")
    (tmp_path / "truth.csv").write_text("item,label\na,cat\n")

    with pytest.raises(CommandError, match=r"no judgments \(2 rows had a blank cell\)"):
        call_command("replay", str(tmp_path))
    assert not Item.objects.exists()


def test_blank_cells_are_dropped_and_the_report_says_how_many(tmp_path: Path) -> None:
    (tmp_path / "answers.csv").write_text("item,worker,label\na,w1,cat\na,w2,\nb,w1,dog\nb,w2,dog\n")
    (tmp_path / "truth.csv").write_text("item,label\na,cat\nb,dog\nc,\n")

    report = _replay(tmp_path, "--method", "mv")
    assert (report["judgments"], report["blank_rows_dropped"], report["truth_blank_rows_dropped"]) == (3, 1, 1)
    assert set(Judgment.objects.values_list("label", flat=True)) == {"cat", "dog"}
    out = io.StringIO()
    call_command("replay", str(tmp_path), stdout=out)
    assert "dropped for a blank cell: 1 rows of answers.csv" in out.getvalue()


def test_the_text_report_names_the_accuracy_and_the_counts(odd_folder: Path) -> None:
    out = io.StringIO()
    call_command("replay", str(odd_folder), stdout=out)
    assert "accuracy" in out.getvalue() and "3 items, 3 workers, 8 judgments" in out.getvalue()


@pytest.mark.parametrize("name", ["D_Duck", "D_Product"])
def test_method_ds_matches_crowd_kit_run_directly_on_the_csv(name: str) -> None:
    folder = DATASETS / name
    if not (folder / "answers.csv").exists():
        pytest.skip(f"data set {folder} is absent")
    data = load_dataset(folder)
    direct = crowdkit_ds_labels(data.votes)
    expected = float(
        np.mean([direct[item] == label for item, label in data.truth.items() if item in direct])
    )
    report = _replay(folder, "--method", "ds")
    assert abs(report["accuracy"] - expected) <= 0.002, (report["accuracy"], expected)


def _stored(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    """The judgments a replay imported: (item name, worker number in the data, label key)."""
    rows = Judgment.objects.filter(job_id=report["job_id"]).values_list(
        "item__data__name", "worker__username", "label"
    )
    # Accounts are replay-<job>-<n>, n the worker's place among the data's sorted worker names.
    return {(item, user.rsplit("-", 1)[1], label) for item, user, label in rows}


@pytest.fixture
def crowd_folder(tmp_path: Path) -> Path:
    """12 items judged by 6 workers each (workers w0-w2 always right, w3-w5 always wrong on
    items 8-11); truth for every item."""
    answers = []
    for item in range(12):
        truth = "yes" if item % 2 else "no"
        for worker in range(6):
            wrong = worker >= 3 and item >= 8
            label = ("no" if truth == "yes" else "yes") if wrong else truth
            answers.append((f"i{item}", f"w{worker}", label))
    (tmp_path / "answers.csv").write_text(
        "item,worker,label\n" + "".join(f"{i},{w},{label}\n" for i, w, label in answers)
    )
    (tmp_path / "truth.csv").write_text(
        "item,label\n" + "".join(f"i{i},{'yes' if i % 2 else 'no'}\n" for i in range(12))
    )
    return tmp_path


def test_a_subsample_imports_k_judgments_per_item_the_same_for_a_seed(crowd_folder: Path) -> None:
    one = _replay(crowd_folder, "--subsample", "2", "--seed", "4", "--method", "mv")
    again = _replay(crowd_folder, "--subsample", "2", "--seed", "4", "--method", "mv")
    other = _replay(crowd_folder, "--subsample", "2", "--seed", "5", "--method", "mv")
    assert one["judgments"] == 24 and one["subsample"] == 2
    assert Judgment.objects.filter(job_id=one["job_id"]).count() == 24
    per_item = Counter(item for item, _, _ in _stored(one))
    assert set(per_item.values()) == {2} and len(per_item) == 12
    assert _stored(one) == _stored(again) and _stored(one) != _stored(other)


def test_a_subsample_larger_than_the_overlap_imports_everything(crowd_folder: Path) -> None:
    report = _replay(crowd_folder, "--subsample", "50", "--method", "mv")
    assert report["judgments"] == 72


def test_repeat_replays_once_per_seed_and_reports_mean_and_spread(crowd_folder: Path) -> None:
    options = ["--repeat", "3", "--seed", "10", "--subsample", "2", "--gold-fraction", "0.25"]
    report = _replay(crowd_folder, "--method", "mv", *options)
    runs = report["runs"]
    assert report["seeds"] == [10, 11, 12] == [run["seed"] for run in runs]
    assert len({run["job_id"] for run in runs}) == 3
    accuracies = [run["accuracy"] for run in runs]
    assert report["accuracy_mean"] == pytest.approx(statistics.fmean(accuracies), abs=1e-6)
    assert report["accuracy_sd"] == pytest.approx(statistics.stdev(accuracies), abs=1e-6)
    # Each seed draws its own gold split: the gold items are not the same three every time.
    gold = [
        frozenset(
            Item.objects.filter(job_id=run["job_id"], is_gold=True).values_list(
                "external_id", flat=True
            )
        )
        for run in runs
    ]
    assert all(len(g) == 3 for g in gold) and len(set(gold)) > 1


def test_repeat_prints_the_mean_the_sd_and_every_seed(crowd_folder: Path) -> None:
    out = io.StringIO()
    call_command("replay", str(crowd_folder), "--repeat", "2", "--subsample", "3", stdout=out)
    text = out.getvalue()
    assert "mean" in text and "sd over 2 seeds 0..1" in text
    assert "seed 0: accuracy" in text and "seed 1: accuracy" in text
    assert "subsampled to 3 per item" in text


@pytest.mark.parametrize(
    ("rule", "judgments", "dropped", "accuracy"),
    [
        ("last", 8, 1, 2 / 3),  # bo's later "big cat" on φωτο-2 loses the item
        ("first", 8, 1, 1.0),  # bo's first "small dog" wins it
        ("drop", 7, 2, 2 / 3),  # neither of bo's answers: 1-1, the tie goes to "big cat"
    ],
)
def test_the_repeats_rule_decides_which_of_a_workers_repeated_judgments_count(
    odd_folder: Path, rule: str, judgments: int, dropped: int, accuracy: float
) -> None:
    report = _replay(odd_folder, "--method", "mv", "--repeats", rule)
    assert report["judgments"] == judgments and report["repeats"] == rule
    assert report["rows_read"] == 9 and report["repeated_rows_dropped"] == dropped
    assert report["repeated_pairs"] == 1
    assert report["accuracy"] == pytest.approx(accuracy)


def test_the_text_report_counts_the_repeated_judgments_and_names_the_rule(
    odd_folder: Path,
) -> None:
    out = io.StringIO()
    call_command("replay", str(odd_folder), "--repeats", "drop", stdout=out)
    assert "2 dropped for 1 repeated (item, worker) pairs (--repeats drop)" in out.getvalue()


def test_method_wawa_is_offered_and_runs(crowd_folder: Path) -> None:
    report = _replay(crowd_folder, "--method", "wawa")
    run = ConsensusRun.objects.get(pk=report["run_id"])
    assert run.status == ConsensusRun.Status.SUCCEEDED and run.method == "wawa"
    # Items i0-i7 are unanimous and right; i8-i11 split 3-3, so they may go either way.
    assert 8 / 12 <= report["accuracy"] <= 1.0 and report["items_scored"] == 12


def test_a_subsample_of_zero_is_refused(crowd_folder: Path) -> None:
    with pytest.raises(CommandError, match="at least 1"):
        call_command("replay", str(crowd_folder), "--subsample", "0")


@pytest.mark.parametrize("method", ["mv", "wawa"])
def test_on_d_duck_a_subsampled_replay_scores_as_the_pure_pipeline_does(method: str) -> None:
    folder = DATASETS / "D_Duck"
    if not (folder / "answers.csv").exists():
        pytest.skip(f"data set {folder} is absent")
    options = ["--subsample", "3", "--repeat", "2", "--seed", "7", "--gold-fraction", "0.1"]
    report = _replay(folder, "--method", method, *options)
    data = load_dataset(folder)
    for run in report["runs"]:
        assert run["judgments"] == 108 * 3 and run["gold_items"] == 11
        gold, held_out = split_gold(data.truth, share=0.1, seed=run["seed"])
        votes = subsample(data.votes, 3, run["seed"])
        expected = accuracy(aggregate(votes, method=method, gold=gold), held_out)
        assert run["items_scored"] == 97
        assert run["accuracy"] == pytest.approx(expected, abs=1e-6), (run["seed"], expected)


def test_a_folder_in_the_layout_of_zheng_et_al_replays_as_it_was_downloaded(tmp_path: Path) -> None:
    (tmp_path / "answer.csv").write_text("question,worker,answer\na,w1,1\na,w2,1\nb,w1,0\nb,w2,0\n")
    (tmp_path / "truth.csv").write_text("question,truth\na,1\nb,0\n")

    report = _replay(tmp_path, "--method", "mv")
    assert (report["items"], report["judgments"], report["accuracy"]) == (2, 4, 1.0)


def test_labels_that_are_no_keys_never_share_one_with_a_label_named_like_the_fallback(tmp_path: Path) -> None:
    """"label-1" is a valid key and "é" is not: "é" falls back to label-1's name, taken, so it
    gets a key of its own and both labels keep their judgments apart."""
    rows = [(f"i{n}", f"w{k}", "label-1" if (n + k) % 3 else "é") for n in range(3) for k in range(3)]
    (tmp_path / "answers.csv").write_text("item,worker,label\n" + "".join(f"{i},{w},{lab}\n" for i, w, lab in rows))
    (tmp_path / "truth.csv").write_text("item,label\ni0,é\ni1,label-1\ni2,label-1\n")

    report = _replay(tmp_path, "--method", "mv")

    keys = [label["key"] for label in Job.objects.get(pk=report["job_id"]).labels]
    assert len(set(keys)) == 2 and report["accuracy"] is not None
    assert Judgment.objects.filter(job_id=report["job_id"]).values("label").distinct().count() == 2


def test_a_replay_whose_consensus_run_fails_exits_with_the_runs_error(
    odd_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("label_set has repeated labels")

    monkeypatch.setattr(runs, "aggregate", broken)  # a fault no data set here provokes any more
    with pytest.raises(CommandError, match=r"consensus run \d+ failed: ValueError: label_set has repeated labels"):
        _replay(odd_folder, "--method", "mv")


def _folder_with_labels(folder: Path, labels: list[str]) -> Path:
    rows = [(f"i{n}", f"w{k}", labels[(n + k) % len(labels)]) for n in range(len(labels)) for k in range(2)]
    (folder / "answers.csv").write_text("item,worker,label\n" + "".join(f'{i},{w},"{lab}"\n' for i, w, lab in rows))
    (folder / "truth.csv").write_text("item,label\n" + "".join(f'i{n},"{lab}"\n' for n, lab in enumerate(labels)))
    return folder


@pytest.mark.parametrize(("labels", "reason"), [
    ([f"c{n}" for n in range(51)], "2 to 50 choices"),
    (["cat", "cat ", "Cat"], "reads the same"),
    (["cat", "a " + "very long label name " * 20], "characters"),
])
def test_a_data_set_whose_labels_the_api_would_refuse_is_refused_and_makes_no_job(
    tmp_path: Path, labels: list[str], reason: str
) -> None:
    with pytest.raises(CommandError, match=f"labels would be refused for a job: .*{reason}"):
        _replay(_folder_with_labels(tmp_path, labels), "--method", "mv")
    assert not Job.objects.exists()
