"""An undo answers alike for a gold item and a regular one, so a refusal tells nothing apart.

A regular item's answer cannot be undone once the item is complete; a gold item never completes,
so its answers were never refused for that, and a worker told "this item is complete" learned it
was regular. Now a gold item's answers, in the order they came, are read in groups of the job's
overlap, each a regular item: the answer that fills a group "completes" it.

The cast: Acme's job (overlap 2) has two regular items and one gold item ("cat"), each handed to
a worker directly (claims serve gold by chance); the first regular item is the one answered (a
job whose regular items are all complete takes no more answers). Walter answers first, then Wendy, whose undo is
what we look at; Wanda's answers complete the job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job, JobStatus
from marketplace.labeling.models import Judgment, JudgmentStatus, Lease
from tests.factories import WorkerFactory, open_job_with_items
from tests.labeling.helpers import post_json, signed_in

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], APIClient]


@pytest.fixture
def job(db: None) -> Job:
    # No feedback and no block: only the item's completion may refuse an undo here.
    return open_job_with_items(
        items=2, gold=1, gold_label="cat", overlap=2,
        quality_rules={"gold_feedback": False, "min_gold_answers": 1000},
    )


def item_of(job: Job, *, gold: bool) -> Item:
    return Item.objects.filter(job=job, is_gold=gold).order_by("id")[0]


def hand(worker: User, item: Item) -> int:
    """The item's lease, handed to the worker directly (a claim picks gold or not by chance)."""
    now = timezone.now()
    lease = Lease.objects.create(
        job=item.job, item=item, worker=worker, created_at=now, expires_at=now + timedelta(minutes=5)
    )
    return lease.pk


def submit(api: APIClient, lease: int) -> int:
    sent = api.post(f"/api/v1/work/leases/{lease}/submit/", {"label": "cat"}, format="json")
    assert sent.status_code == 201, sent.content
    return int(sent.json()["judgment"])


def undo(api: APIClient, judgment: int) -> Any:
    return api.post(f"/api/v1/work/judgments/{judgment}/undo/")


def shape(value: Any) -> Any:
    """A JSON document's keys and value types, without its values."""
    if isinstance(value, dict):
        return {key: shape(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [shape(inner) for inner in value]
    return type(value).__name__


def refusal(reply: Any) -> tuple[int, str, Any]:
    body = reply.json()
    return reply.status_code, body["error"]["message"], shape(body)


def test_a_gold_answer_that_would_have_completed_an_item_is_refused_as_the_regular_one_is(
    wendy: User, walter: User, job: Job, client_for: ClientFor
) -> None:
    api = client_for(wendy)
    for gold in (False, True):
        submit(client_for(walter), hand(walter, item_of(job, gold=gold)))
    regular = submit(api, hand(wendy, item_of(job, gold=False)))  # the second of two: completes it
    refused_regular = undo(api, regular)
    gold = submit(api, hand(wendy, item_of(job, gold=True)))  # the gold item's second answer
    refused_gold = undo(api, gold)

    assert refusal(refused_gold) == refusal(refused_regular)
    assert refusal(refused_gold)[:2] == (409, "Your answer completed this item, so it can no longer be undone.")
    assert Judgment.objects.get(pk=gold).status == JudgmentStatus.ACCEPTED
    job.refresh_from_db()
    assert job.gold_judgment_count == 2  # Walter's and Wendy's, still counted


def test_a_gold_answer_another_worker_followed_is_refused_as_the_regular_one_is(
    wendy: User, walter: User, job: Job, client_for: ClientFor
) -> None:
    api, walters = client_for(wendy), client_for(walter)
    regular = submit(api, hand(wendy, item_of(job, gold=False)))
    submit(walters, hand(walter, item_of(job, gold=False)))  # completes the item under Wendy's answer
    refused_regular = undo(api, regular)
    gold = submit(api, hand(wendy, item_of(job, gold=True)))
    submit(walters, hand(walter, item_of(job, gold=True)))  # fills the gold item's first two
    refused_gold = undo(api, gold)

    assert refusal(refused_gold) == refusal(refused_regular)
    assert refusal(refused_gold)[:2] == (
        409, "Another worker's answer completed this item since, so yours can no longer be undone."
    )


def test_a_gold_answer_in_a_completed_job_is_refused_as_a_regular_one_is(
    wendy: User, walter: User, job: Job, client_for: ClientFor, django_capture_on_commit_callbacks: Any,
) -> None:
    """Every regular item of a completed job is complete, so its answers are refused for that
    (before the job's status is looked at), never with "this job is completed"."""
    api, wanda = client_for(wendy), WorkerFactory(username="wanda")
    gold = submit(api, hand(wendy, item_of(job, gold=True)))  # the gold item's first answer
    for item in Item.objects.filter(job=job, is_gold=False):
        submit(client_for(walter), hand(walter, item))
        with django_capture_on_commit_callbacks(execute=True):  # the job completes once committed
            submit(client_for(wanda), hand(wanda, item))
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED

    refused = undo(api, gold)

    assert refusal(refused)[:2] == (
        409, "Another worker's answer completed this item since, so yours can no longer be undone."
    )


def test_an_allowed_undo_replies_in_the_same_shape_for_gold_and_regular_items(
    wendy: User, job: Job, client_for: ClientFor
) -> None:
    api = client_for(wendy)
    replies = []
    for gold in (False, True):
        reply = undo(api, submit(api, hand(wendy, item_of(job, gold=gold))))
        assert reply.status_code == 200, reply.content
        replies.append(reply.json())
        submit(api, reply.json()["lease"]["lease"])  # answered again: the next undo is the last answer's

    regular, gold_reply = replies
    assert shape(gold_reply) == shape(regular)
    assert gold_reply["status"] == regular["status"] == "withdrawn"
    assert gold_reply["lease"]["status"] == regular["lease"]["status"] == "active"


def test_the_labeling_pages_undo_replies_in_the_same_shape_for_gold_and_regular_items(
    wendy: User, job: Job, client_for: ClientFor
) -> None:
    api, browser = client_for(wendy), signed_in(wendy)
    replies = []
    for gold in (False, True):
        judgment = submit(api, hand(wendy, item_of(job, gold=gold)))
        reply = post_json(browser, reverse("work-label-undo", args=[judgment]))
        assert reply.status_code == 200, reply.content
        replies.append(reply.json())
        submit(api, reply.json()["next"]["lease"])

    regular, gold_reply = replies
    assert shape(gold_reply) == shape(regular)
    assert abs(gold_reply["next"]["seconds_left"] - regular["next"]["seconds_left"]) < 5
