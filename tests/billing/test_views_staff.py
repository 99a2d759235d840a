"""Staff portal pages for money and jobs: payout batches reviewed through the pages (create,
approve, export, mark paid, reject with a reason), the jobs overview and the billing audit.

The cast: Ada is the admin. Wendy and Walter each earned 0.20 and asked for a payout (the
minimum is lowered to 0.10 for these small sums). Alice (Acme's client) and Wendy get 404s.
"""

from __future__ import annotations


import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from marketplace.accounts.models import User
from marketplace.billing.models import AccountKind, LedgerAccount, Payout, PayoutBatch
from marketplace.billing.payouts import payout_request
from marketplace.billing.selectors import worker_money
from marketplace.jobs.models import Job
from marketplace.quality.models import WorkerJobStats
from marketplace.quality.runs import consensus_run
from tests.billing.helpers import D, published

pytestmark = pytest.mark.django_db

STAFF_GETS = ["staff-jobs", "staff-payouts", "staff-audit"]


@pytest.fixture
def requested(earned: Job, wendy: User, walter: User) -> Job:
    """Wendy and Walter asked for 0.20 and 0.15 of what they earned; Wendy met 18 of 20 gold."""
    payout_request(worker=wendy, amount=D("0.20"))
    payout_request(worker=walter, amount=D("0.15"))
    WorkerJobStats.objects.update_or_create(job=earned, worker=wendy, defaults={"gold_seen": 20, "gold_correct": 18})
    return earned


def _as(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def batch(client: Client, ada: User, requested: Job) -> PayoutBatch:
    """Ada, logged in, has batched the two requests."""
    _as(client, ada).post(reverse("staff-payout-batch-create"))
    return PayoutBatch.objects.get()


def test_clients_and_workers_get_404_on_every_staff_money_page(
    client: Client, alice: User, wendy: User, ada: User, requested: Job
) -> None:
    batch = PayoutBatch.objects.create(total=D("0.35"), created_by=ada)
    posts = [reverse("staff-payout-batch-create")] + [
        reverse(name, args=[batch.pk]) for name in
        ("staff-payout-approve", "staff-payout-reject", "staff-payout-paid", "staff-payout-export")
    ]
    for user in (alice, wendy):
        _as(client, user)
        for name in STAFF_GETS:
            assert client.get(reverse(name)).status_code == 404, name
        assert client.get(reverse("staff-payout", args=[batch.pk])).status_code == 404
        for url in posts:
            assert client.post(url, {"reason": "x"}).status_code == 404, url
    batch.refresh_from_db()
    assert batch.status == PayoutBatch.Status.PENDING
    assert Payout.objects.filter(batch__isnull=True).count() == 2


def test_the_staff_actions_answer_by_role_before_the_method_anonymous_to_log_in_others_404(
    client: Client, alice: User, wendy: User, ada: User, requested: Job
) -> None:
    """Every POST-only staff action, the export included: a wrong method tells nobody but staff
    that the page exists."""
    batch = PayoutBatch.objects.create(total=D("0.35"), created_by=ada)
    urls = [reverse("staff-payout-batch-create"), reverse("staff-topup", args=[requested.organization_id])] + [
        reverse(name, args=[batch.pk]) for name in
        ("staff-payout-export", "staff-payout-approve", "staff-payout-reject", "staff-payout-paid")
    ]
    for url in urls:
        for response in (client.get(url), client.post(url)):
            assert response.status_code == 302 and response["Location"].startswith("/login/?next="), url
    for user in (alice, wendy):
        _as(client, user)
        for url in urls:
            assert client.get(url).status_code == 404, url
    _as(client, ada)
    for url in urls:
        assert client.get(url).status_code == 405, url  # staff learn the page takes a POST
    batch.refresh_from_db()
    assert batch.status == PayoutBatch.Status.PENDING and batch.exported_at is None


def test_waiting_requests_show_each_workers_quality_beside_the_amount(
    client: Client, ada: User, requested: Job
) -> None:
    response = _as(client, ada).get(reverse("staff-payouts"))
    assert response.status_code == 200
    waiting = {row["payout"].worker.username: row for row in response.context["waiting"]}
    assert set(waiting) == {"wendy", "walter"} and response.context["waiting_total"] == D("0.35")
    assert waiting["wendy"]["q"].gold.smoothed == pytest.approx(19 / 22)
    html = response.content.decode()
    assert "0.20" in html and "0.15" in html and "18/20" in html


def test_a_batch_is_created_approved_exported_and_marked_paid_through_the_pages(
    client: Client, ada: User, wendy: User, requested: Job
) -> None:
    _as(client, ada)
    created = client.post(reverse("staff-payout-batch-create"))
    batch = PayoutBatch.objects.get()
    assert created["Location"] == reverse("staff-payout", args=[batch.pk]) and batch.total == D("0.35")
    page = client.get(created["Location"])
    assert [r["row"].handle for r in page.context["rows"]] == ["wendy", "walter"] and page.context["can_review"]

    refused = client.post(reverse("staff-payout-export", args=[batch.pk]), follow=True)  # not yet approved
    assert "cannot be exported" in refused.content.decode()

    client.post(reverse("staff-payout-approve", args=[batch.pk]))
    batch.refresh_from_db()
    assert (batch.status, batch.reviewed_by) == (PayoutBatch.Status.APPROVED, ada)
    assert "Export the CSV first" in client.get(reverse("staff-payout", args=[batch.pk])).content.decode()

    unexported = client.post(reverse("staff-payout-paid", args=[batch.pk]), follow=True)  # no file went out yet
    assert "before marking it paid" in unexported.content.decode()
    batch.refresh_from_db()
    assert (batch.status, batch.paid_at) == (PayoutBatch.Status.APPROVED, None)
    assert worker_money(worker=wendy).paid == D("0.00")

    export = client.post(reverse("staff-payout-export", args=[batch.pk]))
    assert export["Content-Type"].startswith("text/csv")
    assert f'payout-batch-{batch.pk}.csv' in export["Content-Disposition"]
    lines = export.content.decode().splitlines()
    assert lines[0] == "payout_id,worker_id,handle,amount" and lines[1].endswith(",wendy,0.20")

    paid = client.post(reverse("staff-payout-paid", args=[batch.pk]), follow=True)
    batch.refresh_from_db()
    assert batch.status == PayoutBatch.Status.PAID and batch.exported_at is not None
    assert "is marked paid" in paid.content.decode()
    assert worker_money(worker=wendy).paid == D("0.20")
    again = client.post(reverse("staff-payout-paid", args=[batch.pk]), follow=True)  # a double click
    assert "cannot be marked paid" in again.content.decode()


@pytest.mark.parametrize("status", [PayoutBatch.Status.PENDING, PayoutBatch.Status.APPROVED])
def test_a_refused_mark_paid_redirects_to_the_batch_saying_why_so_a_reload_posts_nothing(
    client: Client, wendy: User, batch: PayoutBatch, status: str
) -> None:
    """Outside UX review: the refusal was a 409 page answering the POST, which a reload sent again.
    Pending (never approved) or approved but never exported: neither can be marked paid yet."""
    if status == PayoutBatch.Status.APPROVED:
        client.post(reverse("staff-payout-approve", args=[batch.pk]))
    page = reverse("staff-payout", args=[batch.pk])

    refused = client.post(reverse("staff-payout-paid", args=[batch.pk]))

    assert refused.status_code == 302 and refused["Location"] == page
    shown = client.get(page)  # what the browser loads next
    why = str(list(shown.context["messages"])[-1])
    assert "before marking it paid" in why or "cannot be marked paid" in why
    assert shown.status_code == 200 and escape(why) in shown.content.decode()
    reloaded = client.get(page)  # a reload is a GET: it sends nothing and says it once only
    assert reloaded.status_code == 200 and escape(why) not in reloaded.content.decode()
    batch.refresh_from_db()
    assert (batch.status, batch.paid_at, batch.exported_at) == (status, None, None)
    assert worker_money(worker=wendy).paid == D("0.00")


def test_a_rejection_needs_a_reason_and_returns_every_amount(
    client: Client, wendy: User, batch: PayoutBatch
) -> None:
    refused = client.post(reverse("staff-payout-reject", args=[batch.pk]), {"reason": "  "})
    assert refused.status_code == 400 and "A reason is required" in refused.content.decode()
    batch.refresh_from_db()
    assert batch.status == PayoutBatch.Status.PENDING

    done = client.post(reverse("staff-payout-reject", args=[batch.pk]), {"reason": "bank details missing"}, follow=True)
    batch.refresh_from_db()
    assert batch.status == PayoutBatch.Status.REJECTED and "bank details missing" in done.content.decode()
    assert worker_money(worker=wendy).available == D("0.20")


def test_an_exported_batch_asks_whether_the_provider_paid_before_it_is_rejected(
    client: Client, wendy: User, batch: PayoutBatch
) -> None:
    client.post(reverse("staff-payout-approve", args=[batch.pk]))
    client.post(reverse("staff-payout-export", args=[batch.pk]))
    page = client.get(reverse("staff-payout", args=[batch.pk])).content.decode()
    assert 'name="provider_declined"' in page and "would pay its workers twice" in page

    refused = client.post(reverse("staff-payout-reject", args=[batch.pk]), {"reason": "oops"})
    assert refused.status_code == 400 and "confirms it paid none of it" in refused.content.decode()
    assert ">oops</textarea>" in refused.content.decode()  # what Ada typed is still there
    batch.refresh_from_db()
    assert batch.status == PayoutBatch.Status.APPROVED and worker_money(worker=wendy).available == D("0.00")

    client.post(reverse("staff-payout-reject", args=[batch.pk]),
                {"reason": "provider bounced it", "provider_declined": "1"})
    batch.refresh_from_db()
    assert batch.status == PayoutBatch.Status.REJECTED and worker_money(worker=wendy).available == D("0.20")


def test_creating_a_batch_with_nothing_waiting_is_a_message_not_an_error(client: Client, ada: User) -> None:
    response = _as(client, ada).post(reverse("staff-payout-batch-create"), follow=True)
    assert response.status_code == 200 and "No payout requests are waiting" in response.content.decode()
    assert _as(client, ada).get(reverse("staff-payout", args=[424242])).status_code == 404


def test_the_jobs_overview_spans_organizations_with_escrow_and_consensus(
    client: Client, ada: User, carol: User, requested: Job
) -> None:
    globex_job = published(carol.organization, items=3, title="Globex receipts")
    consensus_run(job=requested)
    _as(client, ada)
    response = client.get(reverse("staff-jobs"))
    assert response.status_code == 200
    rows = {r["job"].title: r for r in response.context["rows"]}
    assert set(rows) == {"Acme birds", "Globex receipts"}
    acme = rows["Acme birds"]
    assert (acme["percent"], acme["job"].judgment_count) == (0, 20)  # two of three judgments per item
    assert 0 < acme["consensus"].accuracy <= 1 and acme["consensus"].basis == "model"  # no gold: the model's own
    escrow = LedgerAccount.objects.get(kind=AccountKind.CLIENT_ESCROW, job_id=globex_job.pk).balance
    assert rows["Globex receipts"]["escrow"] == escrow and rows["Globex receipts"]["consensus"].accuracy is None
    titles = [r["job"].title for r in client.get(reverse("staff-jobs"), {"sort": "org"}).context["rows"]]
    assert titles == ["Acme birds", "Globex receipts"]
    assert [r["job"].title for r in client.get(reverse("staff-jobs"), {"q": "globex"}).context["rows"]] == [
        "Globex receipts"]
    for params in ({"sort": "organization__secret"}, {"sort": "-escrow"}, {"status": "evil"}, {"page": "-1"}):
        assert client.get(reverse("staff-jobs"), params).status_code == 200, params


def test_the_audit_page_runs_every_check_and_shows_pass_or_fail(client: Client, ada: User, requested: Job) -> None:
    _as(client, ada)
    idle = client.get(reverse("staff-audit"))
    assert idle.status_code == 200 and not idle.context["ran"]
    report = client.get(reverse("staff-audit"), {"run": "1"})
    assert report.context["report"].ok and all(check.ok for check in report.context["checks"])
    assert "All checks pass" in report.content.decode()

    # A cached balance that drifts from its entries fails exactly the balances check.
    LedgerAccount.objects.filter(kind=AccountKind.CLIENT_BALANCE).update(balance=D("123.45"))
    broken = client.get(reverse("staff-audit"), {"run": "1"})
    verdicts = [check.ok for check in broken.context["checks"]]
    assert [n for n, ok in enumerate(verdicts) if not ok] == [1]  # only the cached-balance check fails
    assert len(verdicts) == len(report.context["checks"]) > 2
    assert "caches 123.45" in broken.content.decode()
