"""The staff's clients page: balances and escrow per organization, and recording a payment.
Ada is an admin; Alice is Acme's client and Wendy a worker: neither may see the page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.test import Client

from marketplace.billing.selectors import organization_balance
from tests.factories import open_job_with_items

D = Decimal


def _logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)  # Client.login() gives authenticate() no request, which the log-in throttle needs
    return client


def test_an_admin_records_a_payment_once_per_reference_and_sees_the_balance(ada: Any, acme: Any) -> None:
    open_job_with_items(items=2, organization=acme)  # something in escrow
    page = _logged_in(ada)
    url = f"/staff/clients/{acme.pk}/topup/"
    assert page.post(url, {"amount": "250.00", "payment_reference": "wire-77"}).status_code == 302
    assert page.post(url, {"amount": "250.00", "payment_reference": "wire-77"}).status_code == 302  # again
    assert organization_balance(organization=acme) == D("250.00")
    listing = page.get("/staff/clients/").content.decode()
    assert "Acme" in listing and "250.00" in listing


def test_a_bad_amount_is_shown_beside_the_form_and_moves_nothing(ada: Any, acme: Any) -> None:
    response = _logged_in(ada).post(f"/staff/clients/{acme.pk}/topup/", {"amount": "lots", "payment_reference": "x"})
    assert response.status_code == 400 and "amount must be a number written out in digits" in response.content.decode()
    assert organization_balance(organization=acme) == D("0.00")


def test_clients_and_workers_cannot_reach_the_page(alice: Any, wendy: Any, acme: Any) -> None:
    for user in (alice, wendy):
        client = _logged_in(user)
        assert client.get("/staff/clients/").status_code == 404
        assert client.post(f"/staff/clients/{acme.pk}/topup/", {"amount": "9", "payment_reference": "y"}).status_code == 404
    assert organization_balance(organization=acme) == D("0.00")


def test_each_organization_shows_the_bank_reference_its_client_pays_with(ada: Any, acme: Any) -> None:
    listing = _logged_in(ada).get("/staff/clients/").content.decode()

    assert f">{acme.slug.upper()}</code>" in listing  # the cell may clip a long reference (title holds it whole)
