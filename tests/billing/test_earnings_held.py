"""The worker's earnings page and API show pay held for review, and why.

Wendy misses three gold answers in "Street signs" and the gold rule blocks her; all her pay there
is still pending, so the withdrawal is over the review cap and waits for Ada, an admin. Walter
relabels her items and the job completes and settles first, so her dropped work's pay is held
(billing/holding.py). She also answered once in another job, whose pay is plainly pending.
Wendy must see the held sum, per job, with the reason; Walter sees nothing held and nothing of
hers. While a job is still open, pay under review is held the same way from the moment the review
opens. The expected sum is recomputed here from her dropped answers and the job's pay.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client

from marketplace import flows_appeals
from marketplace.accounts.models import User
from marketplace.billing import holding, payouts
from marketplace.billing.models import Earning
from marketplace.billing.selectors import worker_money
from marketplace.errors import NotQualified
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.money import money_text
from marketplace.quality.models import WithdrawalReview
from tests.billing.review_helpers import blocked_under_review, past_the_hold
from tests.factories import open_job_with_items
from tests.quality.worker_helpers import answer_gold, answer_regular, gold_job

pytestmark = pytest.mark.django_db
RULES = {"min_gold_answers": 3, "gold_accuracy_floor": "0.5", "gold_feedback": True}
ITEMS = 8


@pytest.fixture
def held_job(wendy: User, walter: User) -> Job:
    """"Street signs", settled while Ada has not yet looked at Wendy's withdrawal."""
    answer_regular(wendy, open_job_with_items(items=2, title="Bird calls"), count=1)
    job = gold_job(items=ITEMS, gold=10, overlap=1, quality_rules=RULES, title="Street signs")
    answer_regular(wendy, job, count=3)
    with contextlib.suppress(NotQualified):
        answer_gold(wendy, job, right=0, wrong=3)
    answer_regular(walter, job, count=ITEMS)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    return job


def _expected_held(wendy: User, job: Job) -> tuple[int, Decimal]:
    """Her dropped answers there and their pay: n answers pay n x pay, rounded once (pricing)."""
    dropped = Judgment.objects.filter(job=job, worker=wendy, status=JudgmentStatus.DROPPED).count()
    return dropped, (dropped * job.reward_per_judgment).quantize(Decimal("0.01"))


def test_a_worker_sees_pay_held_for_review_with_its_job_and_the_reason(
    wendy: User, held_job: Job, client_for: Any
) -> None:
    answers, held = _expected_held(wendy, held_job)
    assert answers > 0 and held > 0
    in_rows = Earning.objects.filter(worker=wendy, status=Earning.Status.HELD).aggregate(s=Sum("amount"))["s"]
    assert in_rows == held  # the earnings say what the judgments and the pay say

    body = client_for(wendy).get("/api/v1/me/earnings/").json()
    assert body["held"] == str(held)
    assert body["held_for_review"] == [
        {"job": held_job.pk, "title": "Street signs", "answers": answers, "amount": str(held)}
    ]
    assert "an admin reviews that withdrawal" in body["held_reason"]
    bird_calls = Earning.objects.get(worker=wendy, job__title="Bird calls").amount
    assert Decimal(body["pending"]) == bird_calls  # held pay is in no other figure

    client = Client()
    client.force_login(wendy)
    page = client.get("/work/earnings/")
    html = page.content.decode()
    assert page.context["held"] == money_text(held)
    assert f'data-field="held">{money_text(held)}<' in html
    assert f'data-field="held-amount">{money_text(held)}<' in html
    assert f"{money_text(held)} held for review" in html  # beside the day's row in Street signs
    pending_cell = html.rsplit("<td>Street signs</td>", 1)[1].split("</tr>", 1)[0].split("<td>", 1)[1]
    assert "held for review" in pending_cell and "—" not in pending_cell.split("held for review")[0]  # no dash, read as a minus
    assert "held for review" in page.context["policy"]  # the box on when pay is withdrawn says so
    assert "an admin reviews that withdrawal" in html and "walter" not in html


def test_a_worker_with_nothing_held_sees_no_held_figure(walter: User, held_job: Job, client_for: Any) -> None:
    body = client_for(walter).get("/api/v1/me/earnings/").json()
    assert (body["held"], body["held_for_review"]) == ("0.00", [])
    client = Client()
    client.force_login(walter)
    html = client.get("/work/earnings/").content.decode()
    assert 'data-field="held"' not in html and "Held for review" not in html and "wendy" not in html


def test_held_pay_left_with_the_worker_leaves_the_held_figure_for_available(
    wendy: User, ada: User, held_job: Job, client_for: Any
) -> None:
    _, held = _expected_held(wendy, held_job)
    review = WithdrawalReview.objects.get(job=held_job, worker=wendy, status=WithdrawalReview.Status.PENDING)
    flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=ada, approve=False, note="Honest misses.")

    body = client_for(wendy).get("/api/v1/me/earnings/").json()
    assert (body["held"], body["held_for_review"]) == ("0.00", [])
    assert Decimal(body["available"]) == held


def test_pay_under_review_in_an_open_job_is_held_not_payable_from_the_moment_the_review_opens(
    wendy: User, walter: User, client_for: Any
) -> None:
    """Outside review: while the job was open, the API said held 0.00 and the page said "payable
    from" a time already past, though the release leaves that pay pending until Ada decides."""
    job, _, dropped = blocked_under_review(wendy, walter)
    answers = Judgment.objects.filter(job=job, worker=wendy, status=JudgmentStatus.DROPPED).count()
    client = Client()
    client.force_login(wendy)

    for _ in ("when the review opens", "a week on, after the release"):
        body = client_for(wendy).get("/api/v1/me/earnings/").json()
        assert body["held"] == str(dropped)
        assert body["held_for_review"] == [
            {"job": job.pk, "title": job.title, "answers": answers, "amount": str(dropped)}
        ]
        assert "Until the admin decides, this pay is not payable" in body["held_reason"]
        assert Decimal(body["pending"]) == worker_money(worker=wendy).pending - dropped  # in no other figure

        html = client.get("/work/earnings/").content.decode()
        assert f'data-field="held">{money_text(dropped)}<' in html
        row = html.rsplit(f"<td>{job.title}</td>", 1)[1].split("</tr>", 1)[0]
        assert f"{money_text(dropped)} held for review" in row and "payable from" not in row
        payouts.earnings_release(now=past_the_hold())
    assert Earning.objects.filter(holding.under_review(), worker=wendy).count() == answers  # still pending
