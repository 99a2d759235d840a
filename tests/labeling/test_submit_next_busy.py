"""The README's worker loop with a small team, on PostgreSQL (SQLite serializes every writer and
could not show the race): POST work/next/ once, then submit with `"next": true` until `next` is
null. A claim passes over an item another worker's submit holds locked (SKIP LOCKED, so claims
never queue); when that item was the only one left for the worker, the claim must not say
"nothing left" (no_work, which ends the loop and stalls the job) but `busy`: ask again shortly.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.errors import Busy, NothingLeft
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import Judgment, Lease
from marketplace.labeling.services import NextClaim, lease_claim, lease_release
from tests.conftest import needs_postgres
from tests.factories import WorkerFactory, open_job_with_items
from tests.threads import Crowd, failures, hold_thread_in, run_together, run_while_one_is_held

ITEMS, OVERLAP, TEAM = 12, 3, 3
RUNS = 4


def _readme_loop(worker: User, job_id: int, crowd: Crowd) -> str:
    """The README's loop: next, then submit with next until `next` is null; on `busy`, wait (for
    another worker's commit, what the Retry-After stands for here) and ask work/next/ again. What
    ended it: the last refusal's code."""
    try:
        while True:
            since = crowd.seen()
            try:
                lease: int | None = lease_claim(worker=worker, job=job_id).pk
            except Busy:
                crowd.wait_for_change(since=since)
                continue
            except NothingLeft as exc:
                return exc.code
            while lease is not None:
                since = crowd.seen()
                outcome = flows.work_submit(worker=worker, lease_id=lease, label="cat", then=NextClaim())
                crowd.changed()
                assert outcome.next is not None
                lease = outcome.next.lease.pk if outcome.next.lease else None
            refused = outcome.next.refused
            assert refused is not None
            if refused.code != Busy.code:
                return refused.code
            crowd.wait_for_change(since=since)
    finally:
        crowd.left()


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_small_team_running_the_readme_loop_completes_every_item_exactly_overlap_times() -> None:
    for _ in range(RUNS):  # the stall needed two submits to cross; each run gives it a chance
        job = open_job_with_items(items=ITEMS, overlap=OVERLAP, gold_rate="0", lease_seconds=3600)
        team = [WorkerFactory() for _ in range(TEAM)]
        crowd = Crowd(TEAM, deadline=time.monotonic() + 120)
        outcomes = run_together({w.username: lambda w=w: _readme_loop(w, job.pk, crowd) for w in team},
                                seconds=120)

        failed = failures(outcomes)
        assert not failed, next(iter(failed.values()))
        job = Job.objects.get(pk=job.pk)
        per_item = Counter(Judgment.objects.filter(job=job).values_list("item_id", flat=True))
        assert (job.status, len(per_item)) == (JobStatus.COMPLETED, ITEMS), (
            f"the job stalled: {len(per_item)} items judged, {sorted(per_item.values())}; "
            f"each worker's loop ended on {sorted(outcomes.values())}"
        )
        assert set(per_item.values()) == {OVERLAP}
        pairs = list(Judgment.objects.filter(job=job).values_list("item_id", "worker_id"))
        assert len(pairs) == len(set(pairs)), "a worker judged an item twice"
        # Each loop ended because the job was done, on the truthful no_work.
        assert set(outcomes.values()) == {NothingLeft.code}


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_the_item_another_workers_submit_holds_is_busy_for_now_and_yours_once_it_commits(
    wendy: User, walter: User, client_for: Any, monkeypatch: Any
) -> None:
    # Two items, overlap 2: Wendy holds the first, Walter the second (Ada took the first's other
    # slot and skipped it), so each of them still has the other's item to judge.
    ada = WorkerFactory(username="ada_the_worker")
    job = open_job_with_items(items=2, overlap=2, gold_rate="0", lease_seconds=3600)
    wendys = lease_claim(worker=wendy, job=job)
    adas = lease_claim(worker=ada, job=job)
    walters = lease_claim(worker=walter, job=job)
    lease_release(worker=ada, lease_id=adas.pk)
    assert adas.item_id == wendys.item_id != walters.item_id
    api = client_for(walter)

    # Wendy's submit is held inside its transaction, her item still locked, while Walter submits
    # through the API (the README's loop) and then asks work/next/ himself.
    held, go = hold_thread_in(monkeypatch, flows, "lease_claim_last", thread=wendy.username)

    def walter_works() -> tuple[Any, Any]:
        submitted = api.post(f"/api/v1/work/leases/{walters.pk}/submit/", {"label": "cat", "next": True},
                             format="json")
        return submitted, api.post("/api/v1/work/next/", {"job": job.pk}, format="json")

    outcomes = run_while_one_is_held(
        {wendy.username: lambda: flows.work_submit(worker=wendy, lease_id=wendys.pk, label="cat", then=NextClaim()),
         walter.username: walter_works},
        first=wendy.username, held=held, go=go,
    )

    failed = failures(outcomes)
    assert not failed, next(iter(failed.values()))
    submitted, asked = outcomes[walter.username]
    # Walter's answer counts; the one item left for him was locked, so he is told to ask again,
    # never that nothing is left: in the submit's next_error, and by work/next/ (409, Retry-After).
    assert submitted.status_code == 201, submitted.content
    assert submitted.json()["next"] is None
    assert submitted.json()["next_error"]["code"] == "busy", submitted.json()
    assert submitted.json()["next_error"]["details"]["retry_after"] >= 1
    assert (asked.status_code, asked.json()["error"]["code"]) == (409, "busy"), asked.content
    assert int(asked["Retry-After"]) >= 1
    # Wendy's claim ran after Walter committed: his item is hers. Asking again, Walter gets hers.
    assert outcomes[wendy.username].next.lease.item_id == walters.item_id
    again = api.post("/api/v1/work/next/", {"job": job.pk}, format="json")
    assert again.status_code == 200, again.content
    assert Lease.objects.get(pk=again.json()["lease"]).item_id == wendys.item_id
