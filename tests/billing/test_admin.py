"""The tier admin: an admin edits a tier's terms, and cannot set a pay no job could be published at.

Root, a superuser, opens the Standard tier in the Django admin. Jobs pay workers at least 0.01 per
judgment (publishing refuses less), so a tier paying 0 (or a fraction of a cent) is refused with
the reason, and the tier keeps its pay; 0.01 and up is saved."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.test import Client

from marketplace.billing.models import Tier

pytestmark = pytest.mark.django_db


def _form(tier: Tier, **changes: Any) -> dict[str, Any]:
    """The change form as the admin page fills it for `tier`, with `changes`."""
    data = {key: ("" if value is None else value) for key, value in model_to_dict(tier).items()}
    data["quality_rules"] = json.dumps(tier.quality_rules)
    data["is_active"] = "on" if tier.is_active else ""
    return {**data, **changes}


@pytest.mark.parametrize("pay", ["0", "0.0000", "0.0099"])
def test_a_tier_paying_less_than_a_cent_per_judgment_is_refused_with_the_reason(root: Client, pay: str) -> None:
    tier = Tier.objects.get(slug="standard")
    before = tier.pay_per_judgment

    page = root.post(f"/admin/billing/tier/{tier.pk}/change/", _form(tier, pay_per_judgment=pay))

    assert page.status_code == 200  # the form again, not the redirect of a saved change
    assert "Workers are paid at least 0.01 per judgment" in page.content.decode()
    tier.refresh_from_db()
    assert tier.pay_per_judgment == before


def test_a_new_tier_paying_nothing_is_not_created(root: Client) -> None:
    data = _form(Tier.objects.get(slug="standard"), slug="volunteer", name="Volunteer", pay_per_judgment="0")

    page = root.post("/admin/billing/tier/add/", data)

    assert page.status_code == 200 and "publishing refuses a job paying less" in page.content.decode()
    assert not Tier.objects.filter(slug="volunteer").exists()


def test_a_tier_paying_a_cent_or_more_is_saved(root: Client) -> None:
    tier = Tier.objects.get(slug="standard")

    page = root.post(f"/admin/billing/tier/{tier.pk}/change/", _form(tier, pay_per_judgment="0.01"))

    assert page.status_code == 302
    tier.refresh_from_db()
    assert tier.pay_per_judgment == Decimal("0.01")
