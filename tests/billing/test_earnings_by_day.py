"""Earnings grouped by job and day, each pending amount with the date it becomes payable.

Wendy answers in two Acme jobs: three answers in "Street signs" and two in "Shop fronts" today,
and four in "Street signs" nine days ago (released since). She undoes one of today's answers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace import flows
from marketplace.accounts.models import Organization, User
from marketplace.billing.models import Earning
from marketplace.billing.payouts import earnings_release, payout_request
from marketplace.billing.statements import worker_earnings_by_job_day
from marketplace.labeling.services import lease_claim
from tests.billing.helpers import D, fund, published

pytestmark = pytest.mark.django_db


def answer(worker: User, job: Any) -> int:
    lease = lease_claim(worker=worker, job=job)
    return flows.work_submit(worker=worker, lease_id=lease.pk, label="cat").judgment.pk


@pytest.fixture
def history(ada: User, acme: Organization, wendy: User) -> dict[str, Any]:
    fund(ada, acme, "20.00")
    signs = published(acme, items=10, title="Street signs")
    shops = published(acme, items=5, title="Shop fronts")
    for _ in range(4):
        answer(wendy, signs)
    nine_days_ago = timezone.now() - timedelta(days=9)
    Earning.objects.filter(worker=wendy).update(created_at=nine_days_ago)
    earnings_release()  # past the 7-day hold: available
    for _ in range(3):
        answer(wendy, signs)
    last = 0
    for _ in range(2):
        last = answer(wendy, shops)
    flows.work_undo(worker=wendy, judgment_id=last)
    return {"signs": signs, "shops": shops, "old_day": nine_days_ago.date()}


def test_each_job_and_day_is_one_row_with_its_status_amounts(history: dict[str, Any], wendy: User) -> None:
    rows = worker_earnings_by_job_day(worker=wendy, hold_days=7)
    today = timezone.now().date()
    summary = [(r.day, r.title, r.answers, r.pending, r.released, r.withdrawn) for r in rows]
    assert summary == [
        (today, "Shop fronts", 1, D("0.02"), D("0.00"), D("0.02")),
        (today, "Street signs", 3, D("0.06"), D("0.00"), D("0.00")),
        (history["old_day"], "Street signs", 4, D("0.00"), D("0.08"), D("0.00")),
    ]


def test_pending_pay_is_payable_when_its_last_answer_has_waited_out_the_hold(
    history: dict[str, Any], wendy: User
) -> None:
    rows = worker_earnings_by_job_day(worker=wendy, hold_days=7)
    latest = Earning.objects.filter(job=history["signs"], status=Earning.Status.PENDING).latest("created_at")
    signs_today = next(r for r in rows if r.title == "Street signs" and r.pending)
    assert signs_today.payable_at == latest.created_at + timedelta(days=7)
    assert rows[-1].payable_at is None  # the released day has nothing pending

    # The release at that moment makes it available, as the page promised.
    earnings_release(now=signs_today.payable_at)
    latest.refresh_from_db()
    assert latest.status == Earning.Status.AVAILABLE


def test_the_page_shows_the_groups_and_the_payable_dates(history: dict[str, Any], wendy: User) -> None:
    client = Client()
    client.force_login(wendy)
    html = client.get(reverse("worker-earnings")).content.decode()
    assert "Earnings by job and day" in html
    assert html.count("<tr><td><time") == 3  # three rows, not nine answers
    payable = (timezone.now() + timedelta(days=7)).date().isoformat()
    assert f"payable from <time datetime=\"{payable}" in html
    assert "$0.02 withdrawn" in html
    assert "$0.08" in html  # the released day


def test_pay_released_and_paid_out_is_shown_as_released_not_as_available(
    history: dict[str, Any], wendy: User, settings: Any
) -> None:
    settings.QUORUM_MIN_PAYOUT = "0.05"
    payout_request(worker=wendy, amount=D("0.08"), key="all-of-it")  # everything available, paid out
    client = Client()
    client.force_login(wendy)
    html = client.get(reverse("worker-earnings")).content.decode()
    assert '<div class="value" data-field="available">$0.00</div>' in html  # nothing left to request
    head = html[html.index("Earnings by job and day"):]
    head = head[:head.index("</thead>")]
    assert ">Released</abbr></th>" in head and "Available" not in head
    old_day = history["old_day"].isoformat()
    row = html[html.index(f'<time datetime="{old_day}'):]
    assert '<span class="badge ok">$0.08</span>' in row[:row.index("</tr>")]  # released that day, paid since
