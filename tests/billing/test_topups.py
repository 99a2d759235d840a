"""An admin records payments into an organization's balance. Ada is the admin; Acme the client
organization whose payments she records."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from marketplace.accounts.models import Organization, User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.selectors import organization_balance
from marketplace.billing.services import topup_record
from tests.billing.helpers import D

pytestmark = pytest.mark.django_db
ClientFor = Callable[[User], APIClient]
URL = "/api/v1/admin/topups/"


def test_a_payment_reference_recorded_again_with_another_amount_is_refused(
    ada: User, acme: Organization, client_for: ClientFor
) -> None:
    api = client_for(ada)
    assert api.post(URL, {"organization": acme.pk, "amount": "200.00", "payment_reference": "wire-9"},
                    format="json").status_code == 201

    reused = api.post(URL, {"organization": acme.pk, "amount": "999.00", "payment_reference": "wire-9"},
                      format="json")

    assert reused.status_code == 409 and reused.json()["error"]["code"] == "conflict"
    assert "200.00" in reused.json()["error"]["message"]
    assert organization_balance(organization=acme) == D("200.00")


def test_a_top_up_the_balance_cannot_hold_is_a_clear_400_and_moves_nothing(
    ada: User, acme: Organization, client_for: ClientFor
) -> None:
    # Near the most an account holds (999,999,999,999.99), recorded past the page's and the API's
    # per-entry limit (1,000,000.00) as a service call, to reach the balance's own check.
    topup_record(admin=ada, organization=acme, amount=D("999999999500.00"), payment_reference="wire-1")

    huge = client_for(ada).post(URL, {"organization": acme.pk, "amount": "500.00", "payment_reference": "wire-2"},
                                format="json")

    assert huge.status_code == 400, huge.content
    assert "999999999999.99" in huge.json()["error"]["message"]
    assert organization_balance(organization=acme) == D("999999999500.00")
    assert ledger_audit().ok
