"""What each judgment earns, as the database records it (billing/paying.py).

On PostgreSQL the remainder rule runs inside the insert's SQL; these tests hold it to
pricing's rule, halves included, and run on SQLite too (where Python computes it).
"""

from __future__ import annotations

import pytest
from django.db import transaction

from marketplace.accounts.models import Organization, User
from marketplace.billing.pricing import judgment_pay_amount, money
from marketplace.billing.selectors import worker_money
from marketplace.billing.services import FundsExhausted, judgment_pay
from marketplace.jobs.models import Item
from marketplace.labeling.models import Judgment
from tests.billing.helpers import D, fund, published, tier

pytestmark = pytest.mark.django_db


def test_a_half_cent_rate_pays_so_the_worker_always_holds_the_rate_times_their_judgments_rounded_half_to_even(
    ada: User, acme: Organization, wendy: User
) -> None:
    # 0.005 a judgment: every other total ends in a half cent, rounded to the even cent.
    tier("halves", price="0.0050", pay="0.0050", overlap=1)
    fund(ada, acme, "1.00")
    job = published(acme, items=24, tier="halves", overlap=1, reward_per_judgment=D("0.0050"))
    earnings = [
        judgment_pay(judgment=Judgment.objects.create(job=job, item=item, worker=wendy, label="cat"))
        for item in Item.objects.filter(job=job).order_by("id")
    ]

    assert [e.rank for e in earnings] == list(range(1, 25))
    assert [e.amount for e in earnings] == [
        judgment_pay_amount(pay_per_judgment=D("0.0050"), rank=k) for k in range(1, 25)
    ]
    assert [e.amount for e in earnings[:5]] == [D("0.00"), D("0.01"), D("0.01"), D("0.00"), D("0.00")]
    assert all((e.posted_at is not None) == (e.amount == 0) for e in earnings)  # nothing to post
    assert worker_money(worker=wendy).pending == money(24 * D("0.0050")) == D("0.12")


def test_a_judgment_of_a_settled_job_earns_nothing_and_says_the_budget_is_closed(
    ada: User, acme: Organization, wendy: User
) -> None:
    fund(ada, acme, "10.00")
    job = published(acme, items=2)
    job.budget.settled_at = job.created_at
    job.budget.save(update_fields=["settled_at"])
    judgment = Judgment.objects.create(job=job, item=Item.objects.filter(job=job).first(), worker=wendy, label="cat")

    with pytest.raises(FundsExhausted), transaction.atomic():  # the submit's transaction rolls back
        judgment_pay(judgment=judgment)
    assert worker_money(worker=wendy).pending == D("0.00")
