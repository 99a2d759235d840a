"""The landing page and the error pages: they render for anyone, and the tiers show real prices."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.web.templatetags.public import money, per_thousand, percent
from marketplace.billing.models import Tier

pytestmark = pytest.mark.django_db


def test_a_visitor_sees_the_pitch_and_both_ways_to_sign_up(client: Client) -> None:
    html = client.get(reverse("home")).content.decode()

    assert "Labels you can trust" in html and "How it works" in html
    assert f'href="{reverse("signup")}?role=client"' in html
    assert f'href="{reverse("signup")}?role=worker"' in html


def test_a_signed_in_user_is_offered_the_portal_instead(client: Client, wendy: User) -> None:
    client.force_login(wendy)

    html = client.get(reverse("home")).content.decode()

    assert "Go to your portal" in html and "?role=worker" not in html.split("How it works")[0]


def test_the_landing_page_prices_the_active_tiers_from_the_tier_table(client: Client) -> None:
    Tier.objects.filter(slug="standard").update(price_per_item=Decimal("0.1234"))
    Tier.objects.create(slug="retired", name="Retired", position=9, is_active=False, price_per_item=1,
                        pay_per_judgment=0, promised_accuracy=Decimal("0.5"),
                        assumed_worker_accuracy=Decimal("0.5"))

    html = client.get(reverse("home")).content.decode()
    text = re.sub(r"<[^>]+>", "", html)

    assert html.index("Economy") < html.index("Standard") < html.index("Premium")
    assert "$70.00 per 1,000 items" in text and "$123.40 per 1,000 items" in text  # per item × 1,000
    assert "$0.12 per item" in text and "90% promised accuracy" in text
    assert "5–9 judgments per item" in text  # premium's dynamic overlap
    assert "Retired" not in html


def test_amount_filters_are_exact_decimals() -> None:
    assert money(Decimal("0.015")) == "$0.02" and money("1234.5") == "$1,234.50" and money("x") == ""
    assert per_thousand(Decimal("0.0150")) == "$15.00"
    assert percent(Decimal("0.9000")) == "90%" and percent(Decimal("0.875")) == "87.5%"


def test_an_unknown_page_is_a_friendly_404(client: Client) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert b"Page not found" in response.content and b"Back to Quorum" in response.content


def test_the_500_page_needs_no_database_or_user() -> None:
    html = render_to_string("500.html")  # no request, no context processors

    assert "Something went wrong" in html and "/static/css/quorum.css" in html
