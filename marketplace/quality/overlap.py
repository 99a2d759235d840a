"""PLACEHOLDER until helper C lands dynamic overlap: never asks for more, never queues."""

from __future__ import annotations


class OverlapJudge:
    def more_wanted(self, item_id: int, judgments: int, max_overlap: int) -> bool:
        return False

    def queue_uncertain(self) -> None:
        return None
