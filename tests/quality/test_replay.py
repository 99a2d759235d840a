"""python manage.py replay DIR: a crowd data set in, consensus accuracy on the truth out."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from marketplace.consensus import load_dataset
from marketplace.consensus.reference import crowdkit_ds_labels
from marketplace.labeling.models import Judgment
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
