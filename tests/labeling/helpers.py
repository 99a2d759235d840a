"""Helpers for the labeling tests. The cast (wendy, walter...) comes from tests/conftest.py."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.errors import NothingLeft
from marketplace.jobs.models import Item, Job
from marketplace.labeling.models import Judgment, Lease
from marketplace.labeling.services import judgment_submit, lease_claim


def expire(lease: Lease) -> None:
    """Let the lease's time run out, as if the worker walked away for longer than lease_seconds
    (and with it the item's mark as full, which lasts until its first lease ends)."""
    past = timezone.now() - timedelta(seconds=1)
    Lease.objects.filter(pk=lease.pk).update(expires_at=past)
    Item.objects.filter(pk=lease.item_id, full_until__gt=past).update(full_until=past)


def held_for(lease: Lease | int, seconds: float | str) -> None:
    """The worker has held the lease `seconds` already, as if the item had been on screen that
    long: the server measures an answer's time from the lease's start, and a client's
    seconds_spent can only lower that measure (labeling/submitting.py)."""
    lease_id = lease if isinstance(lease, int) else lease.pk
    Lease.objects.filter(pk=lease_id).update(created_at=F("created_at") - timedelta(seconds=float(seconds)))


def judge(worker: User, job: Job, label: str = "cat") -> Judgment:
    """One next-item + submit cycle."""
    lease = lease_claim(worker=worker, job=job)
    return judgment_submit(worker=worker, lease_id=lease.pk, label=label)


def judge_all(worker: User, job: Job, label: str = "cat") -> list[Judgment]:
    """Keep taking and submitting items until the job has nothing left for this worker."""
    judgments = []
    for _ in range(10_000):
        try:
            judgments.append(judge(worker, job, label))
        except NothingLeft:
            return judgments
    raise AssertionError("the worker never ran out of work")


def signed_in(user: User) -> Client:
    """A browser session of `user` that Django checks for CSRF, as the portal's pages are."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_token(client: Client) -> str:
    client.get(reverse("work-list"))  # any page sets the CSRF cookie
    return client.cookies["csrftoken"].value


def post_json(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    """A labeling page's JSON call: the body as JSON, the CSRF token in its header."""
    return client.post(url, data=json.dumps(body or {}), content_type="application/json",
                       HTTP_X_CSRFTOKEN=csrf_token(client))
