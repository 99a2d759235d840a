"""One round trip per judgment: POST /api/v1/work/leases/<id>/submit/ with `"next": true`.

Wendy and Walter are workers. Wendy labels through the API; Walter only takes items from her
(a slot she let expire); the client pauses the job under her.
"""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.accounts.models import User
from marketplace.jobs.models import JobStatus
from marketplace.jobs.services import job_transition
from marketplace.labeling import claiming
from marketplace.labeling.models import JobBlock, Judgment, Lease, LeaseStatus
from marketplace.labeling.services import lease_claim
from tests.factories import open_job_with_items
from tests.labeling.helpers import expire
from tests.labeling.test_api_work import LEASE_KEYS, error
from tests.quality.worker_helpers import gold_job

pytestmark = pytest.mark.django_db

SUBMITTED_KEYS = {"judgment", "lease", "label", "submitted_at", "feedback"}


def take(api: Any, job_id: int) -> dict[str, Any]:
    response = api.post("/api/v1/work/next/", {"job": job_id}, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def submit(api: Any, lease_id: int, label: str = "cat", **extra: Any) -> Any:
    return api.post(f"/api/v1/work/leases/{lease_id}/submit/", {"label": label, **extra}, format="json")


def live_leases(worker: User) -> list[int]:
    return list(Lease.objects.filter(worker=worker, status=LeaseStatus.ACTIVE).values_list("pk", flat=True))


def test_submit_with_next_returns_the_saved_judgment_and_a_lease_on_another_item(
    wendy: User, client_for: Any,
) -> None:
    job = open_job_with_items(items=3, overlap=1)
    api = client_for(wendy)
    first = take(api, job.pk)
    done = submit(api, first["lease"], "dog", next=True)
    assert done.status_code == 201, done.content
    body = done.json()
    assert set(body) == SUBMITTED_KEYS | {"next", "next_error"} and body["next_error"] is None
    assert (body["lease"], body["label"]) == (first["lease"], "dog")
    assert Judgment.objects.get(pk=body["judgment"]).label == "dog"
    nxt = body["next"]
    assert set(nxt) == LEASE_KEYS and nxt["item"] != first["item"]
    assert live_leases(wendy) == [nxt["lease"]]
    # Exactly what POST /work/next/ answers for that lease (asking it again returns the same one).
    assert take(api, job.pk) == nxt


def test_a_submit_that_does_not_ask_answers_as_before_and_takes_nothing(
    wendy: User, client_for: Any,
) -> None:
    job = open_job_with_items(items=3, overlap=1)
    api = client_for(wendy)
    for asked in ({}, {"next": False}):
        done = submit(api, take(api, job.pk)["lease"], **asked)
        assert done.status_code == 201 and set(done.json()) == SUBMITTED_KEYS
        assert live_leases(wendy) == []


def test_nothing_left_gives_next_null_with_the_reason_next_would_give(
    wendy: User, client_for: Any,
) -> None:
    job = open_job_with_items(items=1, overlap=1)
    api = client_for(wendy)
    done = submit(api, take(api, job.pk)["lease"], next=True)
    assert done.status_code == 201, done.content
    body = done.json()
    assert body["next"] is None and body["next_error"]["code"] == "no_work"
    refusal = error(api.post("/api/v1/work/next/", {"job": job.pk}, format="json"), 404, "no_work")
    assert body["next_error"]["message"] == refusal
    assert Judgment.objects.filter(worker=wendy).count() == 1


def test_a_retried_submit_returns_the_live_lease_and_never_a_second_one(
    wendy: User, client_for: Any,
) -> None:
    job = open_job_with_items(items=5, overlap=1)
    api = client_for(wendy)
    first = take(api, job.pk)["lease"]
    given = submit(api, first, next=True).json()["next"]
    retry = submit(api, first, next=True)
    assert retry.status_code == 200, retry.content
    assert retry.json()["next"] == given and live_leases(wendy) == [given["lease"]]
    # Once that lease is answered too, a late retry of the first gets the lease live now.
    later = submit(api, given["lease"], next=True).json()["next"]
    assert submit(api, first, next=True).json()["next"]["lease"] == later["lease"]
    assert live_leases(wendy) == [later["lease"]]
    assert Judgment.objects.filter(worker=wendy).count() == 2


def test_a_submit_with_next_gives_back_the_lease_taken_ahead_and_takes_no_other(
    wendy: User, client_for: Any,
) -> None:
    """Wendy's labeling page fetched the item after the one she answers (`ahead_of`); a submit
    with next hands her that lease, hers already: she never holds more than one lease ahead."""
    job = open_job_with_items(items=5, overlap=1)
    api = client_for(wendy)
    first = take(api, job.pk)["lease"]
    ahead = lease_claim(worker=wendy, job=job, ahead_of=first)
    done = submit(api, first, next=True)
    assert done.status_code == 201, done.content
    assert done.json()["next"]["lease"] == ahead.pk and done.json()["next_error"] is None
    assert live_leases(wendy) == [ahead.pk]


def test_a_submit_refused_for_a_bad_label_takes_no_item(wendy: User, client_for: Any) -> None:
    job = open_job_with_items(items=3, overlap=1)
    api = client_for(wendy)
    lease = take(api, job.pk)["lease"]
    error(submit(api, lease, "zebra", next=True), 400, "invalid")
    error(submit(api, lease, "cat", next="maybe"), 400, "invalid")
    assert live_leases(wendy) == [lease] and not Judgment.objects.exists()


def test_a_submit_refused_because_the_lease_was_lost_takes_no_item(
    wendy: User, walter: User, client_for: Any,
) -> None:
    job = open_job_with_items(items=2, overlap=1)
    api = client_for(wendy)
    late = take(api, job.pk)
    expire(Lease.objects.get(pk=late["lease"]))
    assert lease_claim(worker=walter, job=job).item_id == Lease.objects.get(pk=late["lease"]).item_id
    assert "ran out" in error(submit(api, late["lease"], next=True), 409, "conflict")
    assert Lease.objects.get(pk=late["lease"]).status == LeaseStatus.LOST
    assert live_leases(wendy) == [] and not Judgment.objects.filter(worker=wendy).exists()


def test_a_paused_job_gives_no_next_but_keeps_the_answer(wendy: User, client_for: Any) -> None:
    job = open_job_with_items(items=3, overlap=1)
    api = client_for(wendy)
    lease = take(api, job.pk)["lease"]
    job_transition(job=job, to=JobStatus.PAUSED)  # the client pauses while Wendy labels
    done = submit(api, lease, next=True)
    assert done.status_code == 201, done.content
    body = done.json()
    assert body["next"] is None and body["next_error"]["code"] == "conflict"
    assert "paused" in body["next_error"]["message"]
    assert Judgment.objects.filter(worker=wendy).count() == 1 and live_leases(wendy) == []


def test_a_worker_blocked_by_the_answer_just_sent_gets_no_next(wendy: User, client_for: Any) -> None:
    # One missed check item is enough to fall under this job's floor.
    job = gold_job(quality_rules={"min_gold_answers": 1, "gold_accuracy_floor": "0.9"})
    api = client_for(wendy)
    lease = take(api, job.pk)
    for _ in range(200):
        is_gold = Lease.objects.get(pk=lease["lease"]).item.is_gold
        done = submit(api, lease["lease"], "dog" if is_gold else "cat", next=True)
        assert done.status_code == 201, done.content
        if is_gold:
            break
        lease = done.json()["next"]
    else:
        raise AssertionError("no check item came up")
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()
    body = done.json()
    assert body["next"] is None and body["next_error"]["code"] == "not_qualified"
    assert live_leases(wendy) == []


def test_a_submit_refused_because_the_job_cannot_pay_takes_no_item(wendy: User, client_for: Any) -> None:
    # Opened behind the flow's back, as a job published before billing existed would be.
    job = job_transition(job=open_job_with_items(items=3, overlap=1, publish=False), to=JobStatus.OPEN)
    api = client_for(wendy)
    lease = take(api, job.pk)["lease"]
    error(submit(api, lease, next=True), 409, "funds_exhausted")
    assert live_leases(wendy) == [lease] and not Judgment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_answer_and_the_next_item_commit_together_or_not_at_all(
    wendy: User, client_for: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A real transaction per request (no test-wide one). The claim runs last in the submit's
    # transaction; a statement the database refuses there (ClaimAborted: a unique constraint,
    # which aborts a PostgreSQL transaction) rolls the answer back too, so the retry saves it.
    job = open_job_with_items(items=3, overlap=1)
    api = client_for(wendy)
    lease = take(api, job.pk)["lease"]

    def refused(**kwargs: Any) -> Lease:
        assert Judgment.objects.filter(lease_id=lease).exists()  # the claim comes after the answer
        raise claiming.ClaimAborted("Another request of yours took this item a moment ago; ask again.")

    with monkeypatch.context() as patched:
        patched.setattr(claiming, "_claim", refused)
        assert "ask again" in error(submit(api, lease, next=True), 409, "conflict")
    assert not Judgment.objects.exists() and live_leases(wendy) == [lease]

    done = submit(api, lease, next=True)
    assert done.status_code == 201 and Judgment.objects.get().lease_id == lease
    assert live_leases(wendy) == [done.json()["next"]["lease"]]
