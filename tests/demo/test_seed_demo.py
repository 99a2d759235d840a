"""seed_demo's money: an admin opening the staff payouts page in `make demo` sees every state
a payout goes through, from earnings released past the hold to a batch paid."""

from __future__ import annotations

import re
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import Earning, LedgerTransaction, Payout, PayoutBatch, TransactionKind
from marketplace.jobs.models import Job
from marketplace.notifications.models import Event

pytestmark = pytest.mark.django_db


def make_demo_min_payout() -> str:
    """The minimum payout `make demo` gives the seed and its server unless told another."""
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    found = re.search(r"QUORUM_MIN_PAYOUT=\$\$\{QUORUM_MIN_PAYOUT:-([0-9.]+)\}", makefile)
    assert found, "make demo no longer sets QUORUM_MIN_PAYOUT"
    return found.group(1)


def test_the_demo_seeds_released_earnings_and_payouts_in_every_state_once(client: Client, settings: Any) -> None:
    settings.QUORUM_MIN_PAYOUT = make_demo_min_payout()  # as `make demo` runs it
    call_command("seed_demo", "--i-know-this-is-not-production", stdout=StringIO())  # DEBUG is off in tests
    pilot = Job.objects.get(title="Spam filter pilot")
    assert not Earning.objects.filter(job=pilot, status=Earning.Status.PENDING).exists()
    assert LedgerTransaction.objects.filter(kind=TransactionKind.EARNINGS_RELEASE).exists()
    batches = {b.status: b for b in PayoutBatch.objects.all()}
    assert set(batches) == {"paid", "approved", "pending"}
    assert batches["paid"].exported_at is not None and batches["paid"].paid_at is not None
    assert all(p.amount >= Decimal(make_demo_min_payout()) for p in Payout.objects.all())
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
    assert (appeal.worker.username, appeal.job.title, appeal.kind) == ("worker5", "Product review sentiment", "block")
    client.force_login(User.objects.get(username="admin"))
    assert f'data-appeal="{appeal.pk}"' in client.get(reverse("staff-appeals")).content.decode()
    assert ledger_audit().violations == []
    call_command("seed_demo", "--i-know-this-is-not-production", stdout=StringIO())  # adds nothing
    assert Appeal.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # real commits: the pilot's e-mail goes out as in `make demo`
def test_the_demos_e_mail_links_name_the_port_it_will_serve_and_it_does_not_claim_to_be_ready(
    monkeypatch: pytest.MonkeyPatch, mailoutbox: list[Any]
) -> None:
    monkeypatch.setenv("PORT", "8101")
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.delenv("QUORUM_SITE_URL", raising=False)
    out = StringIO()

    call_command("seed_demo", "--i-know-this-is-not-production", stdout=out)

    links = re.findall(r"https?://\S+", "\n".join(message.body for message in mailoutbox))
    assert links, "the completed pilot mails its client"
    assert all(link.startswith("http://127.0.0.1:8101/") for link in links), links
    completed = Event.objects.get(type="job.completed")
    assert completed.data["job"]["url"].startswith("http://127.0.0.1:8101/api/v1/jobs/")
    # The server is not up yet: demo_run says "ready" once it answers on its port.
    assert "ready" not in out.getvalue() and "http://127.0.0.1:8101/" in out.getvalue()
