"""Fixtures shared by the billing tests (the cast itself is in tests/conftest.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from marketplace.accounts.models import Organization, User
from marketplace.billing.payouts import earnings_release
from marketplace.jobs.models import Job
from tests.billing.helpers import fund, published, work_all


@pytest.fixture
def earned(ada: User, acme: Organization, wendy: User, walter: User, settings: Any) -> Job:
    """Wendy and Walter each earned 0.20 (10 judgments at 0.02 in Acme's job), released after the
    hold period; the minimum payout is lowered to 0.10 so these small sums can be paid out."""
    settings.QUORUM_MIN_PAYOUT = "0.10"
    fund(ada, acme, "10.00")
    job = published(acme, items=10, title="Acme birds")
    work_all(wendy, job)
    work_all(walter, job)
    earnings_release(now=timezone.now() + timedelta(days=8))
    return job
