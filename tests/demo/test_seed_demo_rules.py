"""The demo obeys the product's own rules: seed_demo makes its state through the services people's
actions call, so nothing on its pages is a state the product could never reach. A money auditor
opening `make demo` finds no payout under the minimum payout, no block the quality rules did not
make, and a clean `manage.py billing_audit`."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from marketplace.billing import payouts
from marketplace.billing.models import Payout
from marketplace.labeling.models import JobBlock, Judgment
from marketplace.quality import scoring
from marketplace.quality.models import Appeal, QualityEvent, WorkerJobStats
from marketplace.quality.rules import rules_for

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--i-know-this-is-not-production", stdout=out)  # DEBUG is off in tests
    return out.getvalue()


def _audit_passes() -> None:
    out = StringIO()
    call_command("billing_audit", stdout=out)  # raises CommandError on any violation
    assert "billing audit: OK" in out.getvalue()


def test_without_a_lowered_minimum_the_demo_seeds_no_payout_under_it_and_says_why() -> None:
    minimum = payouts.min_payout()
    assert minimum == Decimal("10.00")  # the default: the pilot's cents cannot be paid out

    printed = _seed()

    assert not Payout.objects.filter(amount__lt=minimum).exists()
    assert "QUORUM_MIN_PAYOUT" in printed and "make demo` sets 0.10" in printed
    _audit_passes()


def test_every_demo_block_is_the_gold_rules_own_with_the_evidence_it_writes_and_the_audit_is_clean() -> None:
    _seed()

    blocks = list(JobBlock.objects.select_related("job", "worker"))
    assert [b.worker.username for b in blocks] == ["worker5"]
    for block in blocks:
        rules = rules_for(job=block.job)
        stats = WorkerJobStats.objects.get(job=block.job, worker=block.worker)
        # The rule applies only past its gold answers, under its floor.
        assert stats.gold_seen >= rules.min_gold_answers
        assert scoring.below_floor(correct=stats.gold_correct, seen=stats.gold_seen, min_seen=rules.min_gold_answers,
                                   floor=rules.gold_accuracy_floor)
        event = QualityEvent.objects.get(job=block.job, worker=block.worker, kind=QualityEvent.Kind.BLOCKED)
        assert event.automatic and event.actor is None and event.reason == block.reason
        assert event.evidence["rule"] == "gold_accuracy_floor" and "demo" not in event.evidence
        assert event.evidence["rules"] == rules.as_dict()
        assert (event.evidence["gold"]["correct"], event.evidence["gold"]["seen"]) == (
            stats.gold_correct, stats.gold_seen)
        answered = set(Judgment.objects.filter(job=block.job, worker=block.worker, is_gold=True)
                       .values_list("item_id", flat=True))
        assert {a["item"] for a in event.evidence["answers"]} == answered
        # The block dropped the worker's judgments in the open job, as the rule's block does.
        assert event.evidence["dropped"]["judgments"] > 0
    (worker5,) = blocks
    assert worker5.job.title == "Product review sentiment" and "0 of 18 right" in worker5.reason
    appeal = Appeal.objects.get(worker=worker5.worker)
    assert appeal.block_event == QualityEvent.objects.get(worker=worker5.worker, kind=QualityEvent.Kind.BLOCKED)
    _audit_passes()
