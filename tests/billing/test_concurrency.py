"""A real race on PostgreSQL: 32 threads, each with its own connection, pay distinct judgments
of one job while the schedule posts that pay in batches. SQLite serializes writers and could
not show a race, so this runs only with DATABASE_URL pointing at PostgreSQL.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from marketplace.accounts.models import Organization, User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import Earning, LedgerEntry, TransactionKind
from marketplace.billing.selectors import job_escrow
from marketplace.billing.posting import job_pay_post
from marketplace.billing.services import judgment_pay
from marketplace.jobs.models import Item
from marketplace.labeling.models import Judgment
from tests.billing.helpers import D, fund, published, tier
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory

THREADS = 32


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_32_threads_paying_one_job_while_it_posts_pay_each_judgment_once_and_never_overdraw_it(
    ada: User, acme: Organization
) -> None:
    tier("tight", price="0.1000", pay="0.0200", overlap=THREADS)
    fund(ada, acme, "10.00")
    # 2 items × 32 judgments × 0.02 held: the worst-case pay, above the price.
    job = published(acme, items=2, tier="tight", overlap=THREADS)
    assert job_escrow(job_id=job.pk) == D("1.28")
    item = Item.objects.filter(job=job).first()
    judgments = [
        Judgment.objects.create(job=job, item=item, worker=WorkerFactory(), label="cat")
        for _ in range(THREADS)
    ]

    start = threading.Barrier(THREADS + 2)  # the payers, the poster and the watcher
    done = threading.Event()
    paid: list[int] = []
    failures: list[BaseException] = []
    lowest: list[Decimal] = []

    def pay(judgment: Judgment) -> None:
        try:
            start.wait()
            judgment_pay(judgment=judgment)
            paid.append(judgment.pk)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)
        finally:
            connection.close()  # this thread's own connection

    def post() -> None:
        """The schedule, as fast as it can: batches skip the earnings submits still hold."""
        try:
            start.wait()
            while not done.is_set():
                job_pay_post(job_id=job.pk)
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)
        finally:
            connection.close()

    def watch() -> None:
        """Reads the committed escrow over and over while the payers race."""
        seen = []
        try:
            start.wait()
            while not done.is_set():
                seen.append(job_escrow(job_id=job.pk))
        finally:
            lowest.append(min(seen, default=D("1.28")))
            connection.close()

    threads = [threading.Thread(target=pay, args=(j,)) for j in judgments]
    helpers = [threading.Thread(target=post), threading.Thread(target=watch)]
    for thread in [*threads, *helpers]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    for thread in helpers:
        thread.join()
    job_pay_post(job_id=job.pk)  # what the last batch skipped

    assert not failures, failures[:3]
    assert len(paid) == THREADS
    assert lowest and lowest[0] >= 0
    assert job_escrow(job_id=job.pk) == D("1.28") - THREADS * D("0.02")
    earnings = Earning.objects.filter(job=job)
    assert set(earnings.values_list("judgment_id", flat=True)) == set(paid)
    assert not earnings.filter(posted_at__isnull=True).exists()  # every one posted, once
    credited = LedgerEntry.objects.filter(
        transaction__kind=TransactionKind.JUDGMENT_PAY, transaction__job_id=job.pk, amount__gt=0
    )
    assert sum(credited.values_list("amount", flat=True)) == THREADS * D("0.02")
    report = ledger_audit()
    assert report.ok, report.violations
