"""PLACEHOLDER until helper B lands worker quality."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketplace.labeling.models import Judgment


@dataclass(frozen=True)
class Assessment:
    feedback: dict[str, Any] | None = None


def judgment_assess(*, judgment: Judgment) -> Assessment:
    return Assessment()


def gold_feedback_for(*, judgment: Judgment) -> dict[str, Any] | None:
    return None
