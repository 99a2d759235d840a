"""A closed labeling page gives its items back (label_return, the page's beacon on pagehide).

Wendy's page holds two leases (the item on screen and the one after it); Walter is the worker
waiting for work; Alice is a client.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.errors import NothingLeft
from marketplace.labeling.models import Lease, LeaseStatus
from marketplace.labeling.services import judgment_submit, lease_claim
from tests.factories import open_job_with_items

pytestmark = pytest.mark.django_db

URL = "/work/leases/return/"


def signed_in(user: User) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def beacon(client: Client, leases: str) -> int:
    """What navigator.sendBeacon sends: a form with the lease ids and the page's CSRF token."""
    client.get(reverse("work-list"))  # any page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    return client.post(URL, {"leases": leases, "csrfmiddlewaretoken": token}).status_code


def statuses(*leases: Lease) -> list[str]:
    return [Lease.objects.get(pk=lease.pk).status for lease in leases]


def test_a_closed_page_frees_both_items_it_held_for_the_next_worker(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=2, overlap=1)
    on_screen = lease_claim(worker=wendy, job=job)
    ahead = lease_claim(worker=wendy, job=job, ahead_of=on_screen.pk)
    with pytest.raises(NothingLeft):
        lease_claim(worker=walter, job=job)

    assert beacon(signed_in(wendy), f"{on_screen.pk},{ahead.pk}") == 204

    assert statuses(on_screen, ahead) == [LeaseStatus.RELEASED, LeaseStatus.RELEASED]
    first = lease_claim(worker=walter, job=job)
    second = lease_claim(worker=walter, job=job, ahead_of=first.pk)
    assert {first.item_id, second.item_id} == {on_screen.item_id, ahead.item_id}


def test_an_answered_item_stays_answered_and_anothers_lease_stays_theirs(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=3, overlap=1)
    answered = lease_claim(worker=wendy, job=job)
    judgment_submit(worker=wendy, lease_id=answered.pk, label="cat")
    walters = lease_claim(worker=walter, job=job)

    assert beacon(signed_in(wendy), f"{answered.pk},{walters.pk}") == 204

    assert statuses(answered, walters) == [LeaseStatus.SUBMITTED, LeaseStatus.ACTIVE]


@pytest.mark.parametrize("leases", ["x", "1,2,3", "1;2", "-1", "9" * 19, " , ,1,2,3"])
def test_a_malformed_beacon_is_a_400_that_releases_nothing(wendy: User, leases: str) -> None:
    job = open_job_with_items(items=1, overlap=1)
    held = lease_claim(worker=wendy, job=job)

    assert beacon(signed_in(wendy), leases.replace("1", str(held.pk), 1)) == 400

    assert statuses(held) == [LeaseStatus.ACTIVE]


def test_clients_get_404_and_a_worker_without_the_csrf_token_is_refused(alice: User, wendy: User) -> None:
    job = open_job_with_items(items=1, overlap=1)
    held = lease_claim(worker=wendy, job=job)

    assert beacon(signed_in(alice), str(held.pk)) == 404
    assert signed_in(wendy).post(URL, {"leases": str(held.pk)}).status_code == 403

    assert statuses(held) == [LeaseStatus.ACTIVE]
