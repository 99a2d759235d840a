"""What one judgment costs the database over HTTP, counted statement by statement.

Wendy works through Acme's job the way the labeling page and the simulator do: one request per
judgment, a submit that carries her next lease. Every statement the server sends PostgreSQL is
counted (Django's CaptureQueriesContext), transactions as they run in production (a
transactional test: no test-wide transaction turning them into savepoints).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.accounts.models import User
from marketplace.accounts.services import token_create
from tests.conftest import needs_postgres
from tests.factories import open_job_with_items

# Issue 12 aims at 10 per judgment, and a judgment costs 10: one transaction's BEGIN and COMMIT
# (the submit claims the next lease in its own transaction, flows.work_submit with `then`) and 8
# besides: the token, the submit's 2 (the lease with its item's count, then the judgment with the
# worker's tally and the job's status and counts), pay 1 (the budget's terms read inside the
# earning's insert, billing/paying.py), quality 1 and the next claim's 3. Some cost more: the first
# (the job's rules are read once per process, a token's last use is written once a minute), one
# that flags a fast worker (the fast-answer check's recent answer times ride on quality's 1, its
# peers' pace is read once every few seconds and only once others have answered enough), one that
# completes an item near a job's end (a plain read of whether the job is done). It was 12, in two
# transactions, before the claim joined the submit's.
TYPICAL = 8
MOST = 14
# The first judgment of a test also fills what the process remembers; in one mixed run of the suite
# it cost 2 more than alone (16 before the merges that made it 13), a cause not yet pinned down, so
# the first is bounded apart and a failure prints its statements.
FIRST_MOST = MOST + 2


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_judgment_over_http_costs_ten_statements_in_one_transaction(wendy: User, client: Any) -> None:
    job = open_job_with_items(items=40, overlap=3)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=wendy, name='page')[1]}"}
    first = client.post("/api/v1/work/next/", {"job": job.pk}, content_type="application/json", **headers)
    lease = first.json()["lease"]
    counts: list[tuple[int, int]] = []
    costliest: list[str] = []
    for _ in range(12):
        with CaptureQueriesContext(connection) as queries:
            answer = client.post(f"/api/v1/work/leases/{lease}/submit/", {"label": "cat", "next": True},
                                 content_type="application/json", **headers)
        assert answer.status_code == 201, answer.content
        lease = answer.json()["next"]["lease"]
        statements = [q["sql"].strip().upper() for q in queries.captured_queries]
        besides = [sql for sql in statements if sql not in ("BEGIN", "COMMIT")]
        counts.append((len(besides), len(statements)))
        if len(besides) > len(costliest):
            costliest = besides

    besides = sorted(b for b, _ in counts)
    said = f"{counts}; the costliest judgment's statements:\n" + "\n".join(sql[:160] for sql in costliest)
    assert besides[len(besides) // 2] <= TYPICAL, said  # the median judgment
    assert sorted(a for _, a in counts)[len(counts) // 2] <= TYPICAL + 2, said  # BEGIN, COMMIT
    assert counts[0][0] <= FIRST_MOST, said
    assert max(b for b, _ in counts[1:]) <= MOST, said
    assert max(a - b for b, a in counts) == 2, said  # one transaction's BEGIN and COMMIT


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_judgment_that_asks_for_any_job_next_costs_one_statement_more(wendy: User, client: Any) -> None:
    """The fair serving order (labeling/serving.py) is one statement that lists the open jobs in
    order; the claim then runs in the first job as a named-job claim does."""
    open_job_with_items(items=40, overlap=3)
    open_job_with_items(items=40, overlap=3)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=wendy, name='page')[1]}"}
    lease = client.post("/api/v1/work/next/", {}, content_type="application/json", **headers).json()["lease"]
    counts: list[int] = []
    for _ in range(12):
        with CaptureQueriesContext(connection) as queries:
            answer = client.post(f"/api/v1/work/leases/{lease}/submit/",
                                 {"label": "cat", "next": True, "next_from": "any"},
                                 content_type="application/json", **headers)
        assert answer.status_code == 201, answer.content
        lease = answer.json()["next"]["lease"]
        counts.append(sum(1 for q in queries.captured_queries if q["sql"].strip().upper() not in ("BEGIN", "COMMIT")))

    assert sorted(counts)[len(counts) // 2] <= TYPICAL + 1, counts
