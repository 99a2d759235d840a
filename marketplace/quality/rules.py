"""Quality rules of a job: its tier's defaults, overridden key by key by Job.quality_rules.

The keys and their bounds are defined once, in jobs.fields.QUALITY_RULE_BOUNDS (which
validates a client's overrides); this module only supplies the defaults and merges.

Why the standard tier blocks at "18 gold answers, smoothed accuracy under 0.60" — figures from
scoring.block_probability, the rule checked after every gold answer:
- a uniform spammer on three labels (true accuracy 1/3) is blocked within its first 20 gold
  answers with probability 0.9963 (98.6% of them at the 18th);
- a good worker with true accuracy 0.85 is ever blocked, over 500 gold answers, with
  probability 0.0069 (0.9 accuracy: 0.0005). Its Beta posterior after 18 answers with the
  expected 15 right is Beta(16, 4), whose mass under 0.60 is 2.3%; the rule fires only when the
  posterior *mean* falls under the floor, i.e. with 10 or fewer right out of 18.
Lower floors or earlier checks trade these two the other way (e.g. 10 answers and 0.55: spammer
caught by 20 with 0.9933, good worker falsely blocked with 0.018).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from marketplace.jobs.models import DEFAULT_TIER, Job
from marketplace.jobs.fields import QUALITY_RULE_BOUNDS


@dataclass(frozen=True)
class QualityRules:
    min_gold_answers: int  # gold answers seen before the accuracy floor applies
    gold_accuracy_floor: Decimal  # smoothed gold accuracy under this blocks the worker
    fast_window: int  # the worker's latest judgments in the job whose median time is checked
    fast_seconds: Decimal  # median answer time under this flags the worker (no block)
    gold_feedback: bool  # show the right answer and explanation after a missed gold item

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_gold_answers": self.min_gold_answers,
            "gold_accuracy_floor": str(self.gold_accuracy_floor),
            "fast_window": self.fast_window,
            "fast_seconds": str(self.fast_seconds),
            "gold_feedback": self.gold_feedback,
        }


# Gold feedback is on in every tier: a worker who misses a check item learns the right answer and
# why. A job can turn it off (quality_rules.gold_feedback: false), e.g. when its gold set is small
# enough that shown answers, passed around, would give the check items away.
TIER_DEFAULTS: dict[str, QualityRules] = {
    # Cheap and tolerant: only clear spammers go (1/3-accuracy workers: 0.91 caught by 20 gold
    # answers, nearly all by 40; a 0.75 worker is falsely blocked with 0.009 over 500 answers).
    "economy": QualityRules(
        min_gold_answers=20, gold_accuracy_floor=Decimal("0.50"), fast_window=10,
        fast_seconds=Decimal("1.5"), gold_feedback=True,
    ),
    # See the module docstring for the figures.
    "standard": QualityRules(
        min_gold_answers=18, gold_accuracy_floor=Decimal("0.60"), fast_window=10,
        fast_seconds=Decimal("2"), gold_feedback=True,
    ),
    # Strict: a 0.85 worker is falsely blocked with 0.029 over 500 answers, a 0.9 one with 0.003;
    # spammers are caught by 20 answers with 0.999.
    "premium": QualityRules(
        min_gold_answers=20, gold_accuracy_floor=Decimal("0.65"), fast_window=10,
        fast_seconds=Decimal("3"), gold_feedback=True,
    ),
}
assert set(QualityRules.__dataclass_fields__) == set(QUALITY_RULE_BOUNDS), "rules and bounds disagree"


def rules_merge(*, tier: str, overrides: Mapping[str, Any] | None) -> QualityRules:
    """The tier's defaults (standard for an unknown tier) with the job's validated overrides."""
    rules = TIER_DEFAULTS.get(tier, TIER_DEFAULTS[DEFAULT_TIER])
    changes: dict[str, Any] = {}
    for name, value in (overrides or {}).items():
        if name not in QUALITY_RULE_BOUNDS:
            continue  # validated on write; an old row with a retired key must not break submits
        kind = QUALITY_RULE_BOUNDS[name][0]
        if kind == "int":
            changes[name] = int(value)
        elif kind == "decimal":
            changes[name] = Decimal(str(value))
        else:
            changes[name] = bool(value)
    return replace(rules, **changes)


def rules_for(*, job: Job) -> QualityRules:
    """The job's rules: as fixed at publish; before that (a draft), the tier's defaults and the
    job's overrides as they stand."""
    if job.rules_at_publish:
        return rules_merge(tier=job.tier, overrides=job.rules_at_publish)
    return rules_merge(tier=job.tier, overrides=job.quality_rules)
