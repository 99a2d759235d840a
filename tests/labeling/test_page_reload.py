"""A reload (or a second tab) of the labeling page keeps the worker's item (labeling/returning.py).

Each page load has an id of its own and names it in its calls; a lease is the page's it was last
handed to, and a closing page's beacon gives back only its own. On a reload the old page's beacon
and the new page's first claim race: whichever lands first, Wendy sees the item she was on again.

Wendy's first page is A, its reload (or her second tab) B; Walter is another worker.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job
from marketplace.labeling.models import Lease, LeaseStatus
from marketplace.labeling.services import judgment_submit, lease_claim
from tests.factories import open_job_with_items
from tests.labeling.helpers import csrf_token, expire, signed_in

pytestmark = pytest.mark.django_db

A, B = "a" * 32, "b" * 32


def next_item(client: Client, job: Job, page: str, ahead_of: int | None = None) -> Any:
    """The page's call for its item (or, with ahead_of, the one after it), naming the page."""
    body = {} if ahead_of is None else {"ahead_of": ahead_of}
    return client.post(reverse("work-label-next", args=[job.pk]), body, content_type="application/json",
                       HTTP_X_CSRFTOKEN=csrf_token(client), HTTP_X_QUORUM_PAGE=page)


def shown(client: Client, job: Job, page: str, ahead_of: int | None = None) -> int:
    """The lease of the item the page shows (or fetched after `ahead_of`)."""
    reply = next_item(client, job, page, ahead_of)
    assert reply.status_code == 200 and reply.json()["next"], reply.content
    return reply.json()["next"]["lease"]


def beacon(client: Client, page: str, *leases: int) -> int:
    form = {"leases": ",".join(map(str, leases)), "page": page, "csrfmiddlewaretoken": csrf_token(client)}
    return client.post(reverse("work-label-return"), form).status_code


def status(lease_id: int) -> str:
    return Lease.objects.get(pk=lease_id).status


def test_a_reload_whose_beacon_lands_first_shows_the_same_item_and_the_one_after_it(wendy: User) -> None:
    job = open_job_with_items(items=4, overlap=1)
    client = signed_in(wendy)
    on_screen = shown(client, job, A)
    ahead = shown(client, job, A, ahead_of=on_screen)

    assert beacon(client, A, on_screen, ahead) == 204
    assert [status(on_screen), status(ahead)] == [LeaseStatus.RETURNED, LeaseStatus.RETURNED]

    assert shown(client, job, B) == on_screen
    assert shown(client, job, B, ahead_of=on_screen) == ahead
    assert [status(on_screen), status(ahead)] == [LeaseStatus.ACTIVE, LeaseStatus.ACTIVE]
    assert set(Lease.objects.filter(worker=wendy).values_list("page", flat=True)) == {B}


def test_a_reload_whose_claim_lands_first_keeps_both_items_from_the_late_beacon(wendy: User) -> None:
    job = open_job_with_items(items=4, overlap=1)
    client = signed_in(wendy)
    on_screen = shown(client, job, A)
    ahead = shown(client, job, A, ahead_of=on_screen)

    assert shown(client, job, B) == on_screen  # the item that was on screen, not the one after it
    assert shown(client, job, B, ahead_of=on_screen) == ahead
    assert beacon(client, A, on_screen, ahead) == 204  # page A's, sent as it went, lands late

    assert [status(on_screen), status(ahead)] == [LeaseStatus.ACTIVE, LeaseStatus.ACTIVE]
    assert shown(client, job, B) == on_screen


def test_a_beacon_between_the_new_pages_two_claims_returns_only_what_it_still_held(wendy: User) -> None:
    job = open_job_with_items(items=4, overlap=1)
    client = signed_in(wendy)
    on_screen = shown(client, job, A)
    ahead = shown(client, job, A, ahead_of=on_screen)

    assert shown(client, job, B) == on_screen
    assert beacon(client, A, on_screen, ahead) == 204

    assert [status(on_screen), status(ahead)] == [LeaseStatus.ACTIVE, LeaseStatus.RETURNED]
    assert shown(client, job, B, ahead_of=on_screen) == ahead


def test_closing_the_first_of_two_tabs_leaves_the_second_its_item_to_answer(wendy: User) -> None:
    job = open_job_with_items(items=4, overlap=1)
    client = signed_in(wendy)
    first_tab = shown(client, job, A)
    second_tab = shown(client, job, B)
    assert second_tab == first_tab

    assert beacon(client, A, first_tab) == 204

    assert status(second_tab) == LeaseStatus.ACTIVE
    assert judgment_submit(worker=wendy, lease_id=second_tab, label="cat").lease_id == second_tab


def test_a_returned_item_is_free_for_another_worker_and_then_not_taken_back(wendy: User, walter: User) -> None:
    """A returned lease holds no slot: Walter gets the item at once, and Wendy's reload then shows
    her a new item, never that one again (as after a skip)."""
    job = open_job_with_items(items=2, overlap=1)
    client = signed_in(wendy)
    on_screen = shown(client, job, A)
    item = Lease.objects.get(pk=on_screen).item_id
    assert beacon(client, A, on_screen) == 204

    assert lease_claim(worker=walter, job=job).item_id == item

    again = Lease.objects.get(pk=shown(client, job, B))
    assert again.pk != on_screen and again.item_id != item
    assert status(on_screen) == LeaseStatus.RETURNED


def test_a_returned_lease_whose_time_ran_out_is_not_taken_back(wendy: User) -> None:
    job = open_job_with_items(items=2, overlap=1)
    client = signed_in(wendy)
    on_screen = shown(client, job, A)
    assert beacon(client, A, on_screen) == 204
    expire(Lease.objects.get(pk=on_screen))

    assert shown(client, job, B) != on_screen
    assert status(on_screen) == LeaseStatus.RETURNED


def test_a_returned_lease_cannot_be_answered_by_a_page_still_showing_it(wendy: User) -> None:
    job = open_job_with_items(items=2, overlap=1)
    client = signed_in(wendy)
    first_tab = shown(client, job, A)
    shown(client, job, B)  # the second tab takes it over, then closes
    assert beacon(client, B, first_tab) == 204

    reply = client.post(reverse("work-label-answer", args=[first_tab]), {"label": "cat"},
                        content_type="application/json", HTTP_X_CSRFTOKEN=csrf_token(client),
                        HTTP_X_QUORUM_PAGE=A)

    assert reply.status_code == 409
    assert "given back when its page closed" in reply.json()["error"]["message"]


def test_a_malformed_page_id_is_a_400(wendy: User) -> None:
    job = open_job_with_items(items=2, overlap=1)

    reply = next_item(signed_in(wendy), job, "not a page id")

    assert reply.status_code == 400 and "X-Quorum-Page" in reply.json()["error"]["message"]
    assert not Lease.objects.filter(worker=wendy).exists()


def returned_gold(job: Job, worker: User) -> Lease:
    """A gold lease of the worker's that their page gave back a moment ago."""
    now = timezone.now()
    return Lease.objects.create(
        job=job, item=Item.objects.get(job=job, is_gold=True), worker=worker, page=A,
        status=LeaseStatus.RETURNED, created_at=now, finished_at=now, expires_at=now + timedelta(minutes=5),
    )


def test_a_returned_gold_item_comes_back_only_within_the_jobs_gold_share(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=8, gold=1, overlap=1, gold_rate="0.2")
    gold = returned_gold(job, wendy)

    # No regular answer yet: no gold may go out, so the reload brings a regular item.
    first = lease_claim(worker=wendy, job=job, page=B)
    assert first.item.is_gold is False and status(gold.pk) == LeaseStatus.RETURNED

    for _ in range(4):  # four regular answers: one gold in five is the job's share
        judgment_submit(worker=walter, lease_id=lease_claim(worker=walter, job=job).pk, label="cat")
    Lease.objects.filter(pk=first.pk).update(status=LeaseStatus.RELEASED)  # Wendy skipped it

    assert lease_claim(worker=wendy, job=job, page=B).pk == gold.pk
