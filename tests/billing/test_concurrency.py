"""A real race on PostgreSQL: 32 threads, each with its own connection, pay distinct judgments
of one job whose escrow pays for exactly N of them. SQLite serializes writers and could not
show a race, so this runs only with DATABASE_URL pointing at PostgreSQL.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from marketplace.accounts.models import Organization, User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import Earning
from marketplace.billing.selectors import job_escrow
from marketplace.billing.services import FundsExhausted, judgment_pay
from marketplace.jobs.models import Item
from marketplace.labeling.models import Judgment
from tests.billing.helpers import D, fund, published, tier
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory

THREADS = 32
PAID = 10  # the escrow pays exactly this many judgments


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_32_threads_paying_one_job_pay_exactly_what_its_escrow_covers_and_never_overdraw_it(
    ada: User, acme: Organization
) -> None:
    tier("tight", price="0.1000", pay="0.0200", overlap=THREADS)
    fund(ada, acme, "10.00")
    # 2 items × 0.10 = 0.20 in escrow = 10 judgments of 0.02 (the tier's own settings: no markup).
    job = published(acme, items=2, tier="tight", overlap=THREADS)
    assert job_escrow(job_id=job.pk) == D("0.20")
    item = Item.objects.filter(job=job).first()
    judgments = [
        Judgment.objects.create(job=job, item=item, worker=WorkerFactory(), label="cat")
        for _ in range(THREADS)
    ]

    start = threading.Barrier(THREADS + 1)  # the payers and the watcher
    done = threading.Event()
    paid: list[int] = []
    refused: list[int] = []
    failures: list[BaseException] = []
    lowest: list[Decimal] = []

    def pay(judgment: Judgment) -> None:
        try:
            start.wait()
            judgment_pay(judgment=judgment)
            paid.append(judgment.pk)
        except FundsExhausted:
            refused.append(judgment.pk)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)
        finally:
            connection.close()  # this thread's own connection

    def watch() -> None:
        """Reads the committed escrow over and over while the payers race."""
        seen = []
        try:
            start.wait()
            while not done.is_set():
                seen.append(job_escrow(job_id=job.pk))
        finally:
            lowest.append(min(seen, default=D("0.20")))
            connection.close()

    threads = [threading.Thread(target=pay, args=(j,)) for j in judgments]
    watcher = threading.Thread(target=watch)
    for thread in threads:
        thread.start()
    watcher.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()

    assert not failures, failures[:3]
    assert len(paid) == PAID and len(refused) == THREADS - PAID
    assert job_escrow(job_id=job.pk) == D("0.00")
    assert lowest and lowest[0] >= 0
    assert set(Earning.objects.filter(job=job).values_list("judgment_id", flat=True)) == set(paid)
    report = ledger_audit()
    assert report.ok, report.violations
