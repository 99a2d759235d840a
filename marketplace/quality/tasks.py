"""PLACEHOLDER until helper A lands consensus tasks."""

from __future__ import annotations

from marketplace.labeling.services import Submission


def consensus_after_submit(*, submission: Submission) -> None:
    return None
