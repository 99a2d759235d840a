"""A multi-label job's gold, per label: each label of the job is one yes/no decision, right when
the worker's tick equals gold's (scoring.label_decisions). The gold rule and the worker's gold
accuracy in the job read their balanced accuracy (scoring.balanced_smoothed: the labels gold
ticked and those it left unticked weigh half each), a missed item's feedback the decisions; the judgment's
`is_correct` stays the exact-set match (every label right), kept as the answers' share.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from marketplace.jobs.models import GoldAnswer
from marketplace.labeling.models import Judgment
from marketplace.quality import scoring


def gold_decisions(*, judgment: Judgment) -> scoring.LabelDecisions | None:
    """A scored multi-label gold judgment's per-label decisions (one query: the gold set and
    the job's labels); None for a single-label judgment or an item without a gold set."""
    if judgment.labels is None or not judgment.is_gold:
        return None
    row = GoldAnswer.objects.filter(item_id=judgment.item_id, labels__isnull=False).values_list(
        "labels", "item__job__labels"
    ).first()
    if row is None:
        return None
    gold, choices = row
    return scoring.label_decisions(answered=judgment.labels, gold=gold, keys=[c["key"] for c in choices])


def decisions_tally(rows: Iterable[tuple[list[str] | None, list[str] | None]], keys: list[str]) -> tuple[int, int]:
    """(right, seen) label decisions over (answered set, gold set) pairs; pairs missing either
    set are not decisions."""
    right = seen = 0
    for answered, gold in rows:
        if answered is None or gold is None:
            continue
        decided = scoring.label_decisions(answered=answered, gold=gold, keys=keys)
        right, seen = right + decided.right, seen + decided.seen
    return right, seen


def decisions_balance(rows: Iterable[tuple[list[str] | None, list[str] | None]], keys: list[str]) -> dict[str, int]:
    """The balanced rule's counts (right, seen, pos_right, pos_seen: scoring.balanced_smoothed's
    arguments) over (answered set, gold set) pairs; pairs missing either set are not decisions."""
    counts = dict.fromkeys(("right", "seen", "pos_right", "pos_seen"), 0)
    for answered, gold in rows:
        if answered is None or gold is None:
            continue
        decided = scoring.label_decisions(answered=answered, gold=gold, keys=keys)
        counts["right"] += decided.right
        counts["seen"] += decided.seen
        counts["pos_right"] += decided.positives_right
        counts["pos_seen"] += decided.positives
    return counts


def multi_feedback(*, judgment: Judgment, gold: dict[str, Any]) -> dict[str, Any]:
    """A missed multi-label gold item's feedback: the sets, and the labels decided wrong
    (`wrong_labels`: each with its name and what it should have been). `gold`: the gold answer's
    labels and explanation, and the job's label choices (`item__job__labels`)."""
    names = {c["key"]: c.get("name") or c["key"] for c in gold["item__job__labels"] or []}
    decided = scoring.label_decisions(answered=judgment.labels or [], gold=gold["labels"], keys=list(names))
    return {
        "correct_label": "", "correct_labels": gold["labels"], "explanation": gold["explanation"],
        "your_label": "", "your_labels": judgment.labels or [],
        "wrong_labels": [{"key": key, "name": names[key], "should_be": "ticked" if key in decided.missed
                          else "unticked"} for key in decided.wrong],
        "labels_right": decided.right, "labels_total": decided.seen,
    }


# A WorkerJobStats row's counts of label decisions (0 on a single-label job's rows).
STATS_FIELDS = ("gold_labels_seen", "gold_labels_right", "gold_pos_seen", "gold_pos_right")


def gold_figures(row: dict[str, Any]) -> dict[str, scoring.GoldEstimate | None]:
    """A worker's gold figures in a job from their stats row (with gold_seen, gold_correct and
    STATS_FIELDS): `gold`, what the gold rule reads (balanced over label decisions on a
    multi-label job), and `gold_exact_sets`, the exact-set matches there (None elsewhere)."""
    answers = scoring.gold_estimate(correct=row["gold_correct"], seen=row["gold_seen"])
    if not row["gold_labels_seen"]:
        return {"gold": answers, "gold_exact_sets": None}
    return {"gold": scoring.balanced_estimate(right=row["gold_labels_right"], seen=row["gold_labels_seen"],
                                              pos_right=row["gold_pos_right"], pos_seen=row["gold_pos_seen"]),
            "gold_exact_sets": answers}
