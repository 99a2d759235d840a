"""Undo hands the lease back to the labeling page that undid (labeling/undoing.py): it is that
page's, as a claimed lease is, so only that page's beacon gives it back (labeling/returning.py).

Wendy has the job open in two tabs, pages A and B.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.labeling.models import Lease, LeaseStatus
from tests.factories import open_job_with_items
from tests.labeling.helpers import csrf_token, signed_in
from tests.labeling.test_page_reload import A, B, beacon, shown, status

pytestmark = pytest.mark.django_db


def page_call(client: Client, url: str, page: str, body: dict[str, object]) -> dict[str, object]:
    reply = client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf_token(client),
                        HTTP_X_QUORUM_PAGE=page)
    assert reply.status_code == 200, reply.content
    return reply.json()  # type: ignore[no-any-return]


def test_an_undone_item_stays_on_the_page_that_undid_when_another_tab_closes(wendy: User) -> None:
    """Tab B showed the item too (it took it over), but tab A answered it and then undid: the item
    is A's again, so B's beacon as B closes leaves it, and A's answer is saved."""
    job = open_job_with_items(items=4, overlap=2)
    client = signed_in(wendy)
    item = shown(client, job, A)
    assert shown(client, job, B) == item  # the second tab takes it over
    answered = page_call(client, reverse("work-label-answer", args=[item]), A, {"label": "cat"})
    judgment = answered["submitted"]["judgment"]  # type: ignore[index]

    undone = page_call(client, reverse("work-label-undo", args=[judgment]), A, {})
    assert undone["next"]["lease"] == item  # type: ignore[index]
    assert Lease.objects.get(pk=item).page == A

    assert beacon(client, B, item) == 204
    assert status(item) == LeaseStatus.ACTIVE
    page_call(client, reverse("work-label-answer", args=[item]), A, {"label": "dog"})
    assert status(item) == LeaseStatus.SUBMITTED
