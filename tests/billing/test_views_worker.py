"""The worker's earnings page: totals, earnings by job and day, the policy, payout requests.

Wendy earned 0.20 (10 answers) a week and a day ago, so it is available; Walter earned nothing.
The minimum payout is lowered to 0.10 so these small sums can be asked for.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import Organization, User
from marketplace.billing.models import Payout
from marketplace.billing.payouts import earnings_release
from marketplace.billing.services import DROPPED_JUDGMENT_PAY_POLICY
from tests.billing.helpers import D, fund, published, work_all

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def earned(ada: User, acme: Organization, wendy: User, settings: Any) -> None:
    settings.QUORUM_MIN_PAYOUT = "0.10"
    fund(ada, acme, "10.00")
    job = published(acme, items=10, title="Street signs")
    work_all(wendy, job)
    earnings_release(now=timezone.now() + timedelta(days=8))


def test_clients_and_admins_get_404(alice: User, ada: User) -> None:
    for user in (alice, ada):
        assert signed_in(user).get(reverse("worker-earnings")).status_code == 404


def test_the_page_shows_the_totals_recent_earnings_and_the_policy(earned: None, wendy: User) -> None:
    html = signed_in(wendy).get(reverse("worker-earnings")).content.decode()
    assert 'data-field="available">$0.20<' in html
    assert 'data-field="pending">$0.00<' in html
    assert "Street signs" in html and "$0.20" in html
    assert DROPPED_JUDGMENT_PAY_POLICY in html
    assert 'name="amount"' in html and "csrfmiddlewaretoken" in html


def test_a_worker_sees_only_their_own_money(earned: None, walter: User) -> None:
    html = signed_in(walter).get(reverse("worker-earnings")).content.decode()
    assert "Street signs" not in html and 'data-field="available">$0.00<' in html
    assert 'name="amount"' not in html  # nothing to pay out yet


def test_a_payout_request_moves_the_amount_in_flight(earned: None, wendy: User) -> None:
    client = signed_in(wendy)
    response = client.post(reverse("worker-earnings"), {"amount": "0.15"}, follow=True)
    html = response.content.decode()
    assert Payout.objects.get(worker=wendy).amount == D("0.15")
    assert "Payout of $0.15 requested" in html
    assert 'data-field="available">$0.05<' in html and 'data-field="in_flight">$0.15<' in html


def test_the_payout_history_shows_each_payouts_amount(earned: None, wendy: User) -> None:
    client = signed_in(wendy)
    client.post(reverse("worker-earnings"), {"amount": "0.15"})
    html = client.get(reverse("worker-earnings")).content.decode()
    history = html[html.index("Payout history"):]
    assert '<td class="num" data-field="payout-amount">$0.15</td>' in history


def test_a_double_submitted_form_asks_for_one_payout(earned: None, wendy: User) -> None:
    client = signed_in(wendy)
    for _ in range(2):
        client.post(reverse("worker-earnings"), {"amount": "0.10", "key": "form-key-1"})
    assert Payout.objects.filter(worker=wendy).count() == 1


def test_the_same_form_resent_with_another_amount_says_so_in_the_pages_words(earned: None, wendy: User) -> None:
    # Back to the cached form, another amount, Send again: one payout, and no header named.
    client = signed_in(wendy)
    client.post(reverse("worker-earnings"), {"amount": "0.10", "key": "form-key-1"})
    response = client.post(reverse("worker-earnings"), {"amount": "0.15", "key": "form-key-1"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "This form already asked for a payout of 0.10" in html and "Idempotency-Key" not in html
    assert list(Payout.objects.filter(worker=wendy).values_list("amount", flat=True)) == [D("0.10")]


@pytest.mark.parametrize("amount,message", [
    ("0.05", "The smallest payout is 0.10"),
    ("0.30", "0.10 more than that"),
    ("1.234", "at most 2 decimal places"),
    ("ten", "must be a number"),
    ("", "amount is required"),
])
def test_a_bad_payout_request_is_shown_as_a_form_error(earned: None, wendy: User, amount: str, message: str) -> None:
    response = signed_in(wendy).post(reverse("worker-earnings"), {"amount": amount})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Payout.objects.exists()
