"""The labeling page's leases follow the tab: a closed page gives its items back (label_return,
the page's beacon on pagehide; tests/labeling/test_page_reload.py: only its own), and an open one holds them a short span at a time, renewed by its
heartbeat (label_heartbeat), so a tab that dies without a word frees them soon.

Wendy's page holds two leases (the item on screen and the one after it); Walter is the worker
waiting for work; Alice is a client.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import NothingLeft
from marketplace.labeling.models import Lease, LeaseStatus
from marketplace.labeling.services import judgment_submit, lease_claim
from tests.factories import open_job_with_items
from tests.labeling.helpers import csrf_token, expire, post_json, signed_in

pytestmark = pytest.mark.django_db

URL = "/work/leases/return/"


PAGE = "0f3a9c2e7b1d4e6fa8c05b2d9e1f7a34"  # the closing page's id (label_net.js makes one per load)


def beacon(client: Client, leases: str, page: str = PAGE) -> int:
    """What navigator.sendBeacon sends: a form with the lease ids, the page's id and its CSRF token."""
    form = {"leases": leases, "page": page, "csrfmiddlewaretoken": csrf_token(client)}
    return client.post(URL, form).status_code


def statuses(*leases: Lease) -> list[str]:
    return [Lease.objects.get(pk=lease.pk).status for lease in leases]


def test_a_closed_page_frees_both_items_it_held_for_the_next_worker(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=2, overlap=1)
    on_screen = lease_claim(worker=wendy, job=job, page=PAGE)
    ahead = lease_claim(worker=wendy, job=job, ahead_of=on_screen.pk, page=PAGE)
    with pytest.raises(NothingLeft):
        lease_claim(worker=walter, job=job)

    assert beacon(signed_in(wendy), f"{on_screen.pk},{ahead.pk}") == 204

    assert statuses(on_screen, ahead) == [LeaseStatus.RETURNED, LeaseStatus.RETURNED]
    first = lease_claim(worker=walter, job=job)
    second = lease_claim(worker=walter, job=job, ahead_of=first.pk)
    assert {first.item_id, second.item_id} == {on_screen.item_id, ahead.item_id}


def test_an_answered_item_stays_answered_and_anothers_lease_stays_theirs(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=3, overlap=1)
    answered = lease_claim(worker=wendy, job=job, page=PAGE)
    judgment_submit(worker=wendy, lease_id=answered.pk, label="cat")
    walters = lease_claim(worker=walter, job=job, page=PAGE)

    assert beacon(signed_in(wendy), f"{answered.pk},{walters.pk}") == 204

    assert statuses(answered, walters) == [LeaseStatus.SUBMITTED, LeaseStatus.ACTIVE]


@pytest.mark.parametrize("action", ["answer", "skip"])
def test_an_answer_sent_before_the_item_fetched_ahead_arrived_gets_that_item_and_no_other(
    wendy: User, action: str,
) -> None:
    """Wendy's page answers (or skips) the item on screen before the item it fetched ahead has
    reached it, so it sends no `ahead_of`: the reply's next item is the one taken ahead (hers
    already), not a third item and not "nothing left"."""
    job = open_job_with_items(items=4, overlap=1)
    page = signed_in(wendy)
    next_url = reverse("work-label-next", args=[job.pk])
    on_screen = post_json(page, next_url).json()["next"]["lease"]
    ahead = post_json(page, next_url, {"ahead_of": on_screen}).json()["next"]["lease"]

    body = {"label": "cat"} if action == "answer" else {}
    reply = post_json(page, reverse(f"work-label-{action}", args=[on_screen]), body).json()

    assert reply["next"]["lease"] == ahead
    assert list(Lease.objects.filter(worker=wendy, status=LeaseStatus.ACTIVE).values_list("pk", flat=True)) == [ahead]


@pytest.mark.parametrize("leases", ["x", "1,2,3", "1;2", "-1", "9" * 19, " , ,1,2,3"])
def test_a_malformed_beacon_is_a_400_that_releases_nothing(wendy: User, leases: str) -> None:
    job = open_job_with_items(items=1, overlap=1)
    held = lease_claim(worker=wendy, job=job, page=PAGE)

    assert beacon(signed_in(wendy), leases.replace("1", str(held.pk), 1)) == 400

    assert statuses(held) == [LeaseStatus.ACTIVE]


@pytest.mark.parametrize("page", ["", "x" * 65, "a b", "é"])
def test_a_beacon_without_its_pages_id_is_a_400_that_returns_nothing(wendy: User, page: str) -> None:
    """A page loaded before pages had ids sends none: its leases run out by themselves instead."""
    job = open_job_with_items(items=1, overlap=1)
    held = lease_claim(worker=wendy, job=job, page=PAGE)

    assert beacon(signed_in(wendy), str(held.pk), page=page) == 400

    assert statuses(held) == [LeaseStatus.ACTIVE]


def test_clients_get_404_and_a_worker_without_the_csrf_token_is_refused(alice: User, wendy: User) -> None:
    job = open_job_with_items(items=1, overlap=1)
    held = lease_claim(worker=wendy, job=job, page=PAGE)

    assert beacon(signed_in(alice), str(held.pk)) == 404
    assert signed_in(wendy).post(URL, {"leases": str(held.pk)}).status_code == 403

    assert statuses(held) == [LeaseStatus.ACTIVE]


# --- an open page holds its items a short span at a time

HOLD = 60  # QUORUM_PAGE_LEASE_SECONDS in these tests; the jobs' own leases are 10 minutes


@pytest.fixture(autouse=True)
def _short_page_leases(settings: Any) -> None:
    settings.QUORUM_PAGE_LEASE_SECONDS = HOLD


def seconds_held(lease_id: int) -> float:
    return (Lease.objects.get(pk=lease_id).expires_at - timezone.now()).total_seconds()


def test_the_page_holds_an_item_for_a_short_span_but_shows_the_jobs_whole_lease(wendy: User) -> None:
    job = open_job_with_items(items=3, overlap=1, lease_seconds=600)

    shown = post_json(signed_in(wendy), reverse("work-label-next", args=[job.pk])).json()["next"]

    assert HOLD - 10 < seconds_held(shown["lease"]) <= HOLD  # a dead tab frees it within a minute
    assert 590 < shown["seconds_left"] <= 600  # the worker still has the job's ten minutes
    api_lease = lease_claim(worker=wendy, job=job, ahead_of=shown["lease"])  # a script: no page
    assert seconds_held(api_lease.pk) > 590


def test_the_heartbeat_renews_the_pages_items_up_to_the_jobs_whole_lease(wendy: User) -> None:
    job = open_job_with_items(items=3, overlap=1, lease_seconds=600)
    client = signed_in(wendy)
    lease_id = post_json(client, reverse("work-label-next", args=[job.pk])).json()["next"]["lease"]
    Lease.objects.filter(pk=lease_id).update(expires_at=timezone.now() + timedelta(seconds=5))

    answer = post_json(client, reverse("work-label-heartbeat"), {"leases": [lease_id]})

    assert answer.status_code == 200 and answer.json() == {"extended": [lease_id]}
    assert HOLD - 10 < seconds_held(lease_id) <= HOLD
    # Near the end of the job's lease the heartbeat stops at it: an open tab does not keep an item.
    Lease.objects.filter(pk=lease_id).update(
        created_at=timezone.now() - timedelta(seconds=590), expires_at=timezone.now() + timedelta(seconds=5)
    )
    post_json(client, reverse("work-label-heartbeat"), {"leases": [lease_id]})
    assert 5 < seconds_held(lease_id) <= 10


def test_a_lapsed_lease_is_not_revived_and_anothers_is_not_touched(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=3, overlap=1, lease_seconds=600)
    lapsed = lease_claim(worker=wendy, job=job, hold=HOLD)
    expire(lapsed)
    walters = lease_claim(worker=walter, job=job, hold=HOLD)
    before = Lease.objects.get(pk=walters.pk).expires_at

    answer = post_json(signed_in(wendy), reverse("work-label-heartbeat"), {"leases": [lapsed.pk, walters.pk]})

    assert answer.json() == {"extended": []}
    assert seconds_held(lapsed.pk) <= 0
    assert Lease.objects.get(pk=walters.pk).expires_at == before


@pytest.mark.parametrize("body", [{}, {"leases": []}, {"leases": [1, 2, 3]}, {"leases": ["1"]},
                                  {"leases": [True]}, {"leases": [-1]}, {"leases": 1}])
def test_a_malformed_heartbeat_is_a_400_that_renews_nothing(wendy: User, body: dict[str, Any]) -> None:
    job = open_job_with_items(items=1, overlap=1, lease_seconds=600)
    held = lease_claim(worker=wendy, job=job, hold=HOLD)
    before = Lease.objects.get(pk=held.pk).expires_at

    assert post_json(signed_in(wendy), reverse("work-label-heartbeat"), body).status_code == 400

    assert Lease.objects.get(pk=held.pk).expires_at == before
