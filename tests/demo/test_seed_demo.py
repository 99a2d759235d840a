"""seed_demo's money: an admin opening the staff payouts page in `make demo` sees every state
a payout goes through, from earnings released past the hold to a batch paid."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import Earning, LedgerTransaction, Payout, PayoutBatch, TransactionKind
from marketplace.jobs.models import Job

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_released_earnings_and_payouts_in_every_state_once(client: Client) -> None:
    call_command("seed_demo", "--i-know-this-is-not-production", stdout=StringIO())  # DEBUG is off in tests
    pilot = Job.objects.get(title="Spam filter pilot")
    assert not Earning.objects.filter(job=pilot, status=Earning.Status.PENDING).exists()
    assert LedgerTransaction.objects.filter(kind=TransactionKind.EARNINGS_RELEASE).exists()
    batches = {b.status: b for b in PayoutBatch.objects.all()}
    assert set(batches) == {"paid", "approved", "pending"}
    assert batches["paid"].exported_at is not None and batches["paid"].paid_at is not None
    waiting = Payout.objects.get(status=Payout.Status.REQUESTED, batch__isnull=True)
    assert waiting.worker.username == "worker1"

    client.force_login(User.objects.get(username="admin"))
    page = client.get(reverse("staff-payouts"))
    assert [row["payout"] for row in page.context["waiting"]] == [waiting]
    assert {b.status for b in page.context["batches"]} == {"paid", "approved", "pending"}
    assert ledger_audit().violations == []

    call_command("seed_demo", "--i-know-this-is-not-production", stdout=StringIO())  # adds nothing
    assert Payout.objects.count() == 5 and PayoutBatch.objects.count() == 3


def test_the_demo_leaves_a_worker_with_an_open_appeal_on_the_staff_page(client: Client) -> None:
    from marketplace.quality.models import Appeal

    call_command("seed_demo", "--i-know-this-is-not-production", stdout=StringIO())
    appeal = Appeal.objects.get(status=Appeal.Status.OPEN)
    assert (appeal.worker.username, appeal.job.title, appeal.kind) == ("worker5", "Spam filter pilot", "block")
    client.force_login(User.objects.get(username="admin"))
    assert f'data-appeal="{appeal.pk}"' in client.get(reverse("staff-appeals")).content.decode()
    assert ledger_audit().violations == []
    call_command("seed_demo", "--i-know-this-is-not-production", stdout=StringIO())  # adds nothing
    assert Appeal.objects.count() == 1
