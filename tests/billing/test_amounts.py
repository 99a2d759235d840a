"""Every door that takes money a person types reads it one way (parsing.decimal_plain through
billing/amounts.money_in, and the pay per judgment): plain digits with at most 2 places (4 for a
pay), at most the documented maximum, anything else a 400 showing what was typed and moving nothing.

Ada (admin) records Acme's payments on the staff page and the API; Alice (Acme's client) adds to
her job's escrow and sets a job's pay; Wendy (worker, 0.20 available) asks for payouts on her
earnings page and the API. The staff top-up page once read "1e10" with Decimal() and recorded
$10,000,000,000.00.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from marketplace.accounts.models import Organization, User
from marketplace.billing.models import JobBudget, Payout
from marketplace.billing.selectors import organization_balance
from marketplace.jobs.models import Job
from tests.billing.helpers import D, fund
from tests.portal import browser

pytestmark = pytest.mark.django_db

# Not plain digits: an exponent, not-a-number, a sign, hex, a bare point at either end.
NOT_PLAIN = ["1e10", "1E2", "NaN", "Infinity", "-0", "0x10", "5.", ".5"]
SPACED = " 5 "  # spaces around a number are not part of it: read as 5
MAX_AMOUNT = D("1000000.00")  # one amount typed or sent, as README's limits table says
TOO_LARGE = "1000000.01"


class Doors:
    """Each money door, posting one typed amount: (status, message) and what it moved."""

    def __init__(self, earned: Job, ada: User, alice: User, wendy: User, acme: Organization,
                 client_for: Callable[[User], Any]) -> None:
        self.job, self.ada, self.alice, self.wendy, self.acme, self.client_for = (
            earned, ada, alice, wendy, acme, client_for)
        self.keys = 0

    def _key(self) -> str:
        self.keys += 1
        return f"k-{self.keys}"

    def staff_topup_form(self, amount: str) -> tuple[int, str]:
        page = browser(self.ada).post(f"/staff/clients/{self.acme.pk}/topup/",
                                      {"amount": amount, "payment_reference": self._key()})
        return page.status_code, html.unescape(page.content.decode())

    def admin_topup_api(self, amount: str) -> tuple[int, str]:
        answer = self.client_for(self.ada).post("/api/v1/admin/topups/", {
            "organization": self.acme.pk, "amount": amount, "payment_reference": self._key()}, format="json")
        return _api(answer)

    def escrow_addition_api(self, amount: str) -> tuple[int, str]:
        answer = self.client_for(self.alice).post(f"/api/v1/jobs/{self.job.pk}/escrow/", {"amount": amount},
                                                  format="json", HTTP_IDEMPOTENCY_KEY=self._key())
        return _api(answer)

    def payout_api(self, amount: str) -> tuple[int, str]:
        answer = self.client_for(self.wendy).post("/api/v1/me/payouts/", {"amount": amount}, format="json",
                                                  HTTP_IDEMPOTENCY_KEY=self._key())
        return _api(answer)

    def payout_form(self, amount: str) -> tuple[int, str]:
        page = browser(self.wendy).post(reverse("worker-earnings"), {"amount": amount, "key": self._key()})
        return page.status_code, html.unescape(page.content.decode())

    def moved(self) -> tuple[Any, ...]:
        """Everything these doors could move."""
        return (organization_balance(organization=self.acme), JobBudget.objects.get(job=self.job).budget,
                Payout.objects.count())


def _api(answer: Any) -> tuple[int, str]:
    """An API answer's status and, for an error, its message (JSON escapes the quotes)."""
    return answer.status_code, answer.json()["error"]["message"] if answer.status_code >= 400 else ""


AMOUNT_DOORS = ["staff_topup_form", "admin_topup_api", "escrow_addition_api", "payout_api", "payout_form"]


@pytest.fixture
def doors(earned: Job, ada: User, alice: User, wendy: User, acme: Organization, client_for: Any) -> Doors:
    fund(ada, acme, "20.00", ref="wire-for-escrow")
    return Doors(earned, ada, alice, wendy, acme, client_for)


@pytest.mark.parametrize("door", AMOUNT_DOORS)
@pytest.mark.parametrize("typed", NOT_PLAIN)
def test_an_amount_not_written_in_plain_digits_is_refused_at_every_door_as_typed(
    doors: Doors, door: str, typed: str
) -> None:
    before = doors.moved()
    status, text = getattr(doors, door)(typed)
    assert status == 400, text[:300]
    assert "written out in digits 0-9" in text and "no exponent such as 1e3" in text
    assert f'not "{typed}"' in text
    assert doors.moved() == before


@pytest.mark.parametrize("door", AMOUNT_DOORS)
def test_an_amount_over_the_documented_maximum_is_refused_at_every_door(doors: Doors, door: str) -> None:
    before = doors.moved()
    status, text = getattr(doors, door)(TOO_LARGE)
    assert status == 400, text[:300]
    assert "amount is at most 1,000,000.00" in text
    assert doors.moved() == before


def test_the_staff_page_records_a_payment_up_to_the_maximum_and_says_the_rule(doors: Doors) -> None:
    before = organization_balance(organization=doors.acme)
    status, _ = doors.staff_topup_form("1000000.00")
    assert status == 302
    assert organization_balance(organization=doors.acme) == before + MAX_AMOUNT
    listing = browser(doors.ada).get("/staff/clients/").content.decode()
    assert "written out in digits (250.00, never 1e3), at most $1,000,000.00 per entry" in listing


def test_spaces_around_an_amount_are_not_part_of_it_at_any_door(doors: Doors) -> None:
    balance = organization_balance(organization=doors.acme)
    assert doors.staff_topup_form(SPACED)[0] == 302
    assert doors.admin_topup_api(SPACED)[0] == 201
    assert organization_balance(organization=doors.acme) == balance + D("10.00")
    budget = JobBudget.objects.get(job=doors.job).budget
    status, text = doors.escrow_addition_api(SPACED)
    assert status == 200, text
    assert JobBudget.objects.get(job=doors.job).budget == budget + D("5.00")
    # Wendy has 0.20 available: 5 is read as 5.00, and refused as more than she has.
    status, text = doors.payout_api(SPACED)
    assert status == 402 and "written out in digits" not in text and "4.80" in text
    status, text = doors.payout_form(SPACED)
    assert "written out in digits" not in text and "4.80" in text
    assert Payout.objects.count() == 0


def _job(api: Any, pay: str) -> Any:
    labels = [{"key": "cat"}, {"key": "dog"}]
    return api.post("/api/v1/jobs/", {"title": "Pay", "labels": labels, "reward_per_judgment": pay}, format="json")


@pytest.mark.parametrize("typed", NOT_PLAIN)
def test_a_pay_per_judgment_not_in_plain_digits_is_refused_as_typed(alice: User, client_for: Any, typed: str) -> None:
    answer = _job(client_for(alice), typed)
    assert answer.status_code == 400, answer.content
    message = answer.json()["error"]["message"]
    assert message.startswith("reward_per_judgment must be a number written out in digits 0-9")
    assert f'not "{typed}"' in message
    assert Job.objects.count() == 0


def test_a_pay_per_judgment_is_at_most_its_documented_maximum_and_may_be_spaced(alice: User, client_for: Any) -> None:
    api = client_for(alice)
    over = _job(api, "1001")  # the README's limit: 0.01 to 1000
    assert over.status_code == 400 and "reward_per_judgment is at most 1,000" in over.json()["error"]["message"]
    spaced = _job(api, SPACED)
    assert spaced.status_code == 201, spaced.content
    assert spaced.json()["reward_per_judgment"] == "5.0000"
    assert Job.objects.get().reward_per_judgment == Decimal("5")
