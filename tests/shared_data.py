"""The public crowd data sets beside the project (../shared/datasets), for tests that read them.

They are never copied into the repository; where they are absent, a test that needs one skips
and says why.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from marketplace.consensus import Dataset, load_dataset

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def dataset_folder(name: str) -> Path:
    """The folder of a shared data set; skips the test when it is not there."""
    folder = DATASETS / name
    if not (folder / "answers.csv").exists():
        pytest.skip(f"{folder} is not there (the public data sets sit beside the project)")
    return folder


@cache
def dataset(name: str) -> Dataset:
    """A shared data set, read once per test process (repeated judgments: the last row counts)."""
    return load_dataset(dataset_folder(name))
