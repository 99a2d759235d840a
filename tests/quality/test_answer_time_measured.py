"""An answer's time is the server's measure (lease start to submit); the seconds_spent a client
sends can lower it, never raise it. So the fast-answer rule, the medians and the hourly estimate,
which all read it, cannot be talked out of what the server saw."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from marketplace.labeling.models import Judgment, Lease
from marketplace.quality.models import WorkerJobStats
from tests.factories import WorkerFactory
from tests.labeling.helpers import held_for, post_json, signed_in
from tests.quality.worker_helpers import answer_regular, gold_job

pytestmark = pytest.mark.django_db

RULES = {"fast_window": 5, "fast_seconds": "2"}


def paced_job(walter: User) -> Job:
    """A job whose other worker takes 3 s an answer: the pace a bot is judged by."""
    job = gold_job(gold=0, gold_rate="0", items=60, overlap=3, quality_rules=RULES)
    answer_regular(walter, job, count=12, seconds="3")
    return job


def answers_until_flagged(api: Any, job: Job, worker: User, body: dict[str, Any], *, most: int = 15) -> int | None:
    """Answer through the API as a script does (each submit takes the next item, no pause) until
    the fast rule flags the worker; how many answers that took, or None if it never did."""
    lease = api.post("/api/v1/work/next/", {"job": job.pk}, format="json").json()["lease"]
    for answered in range(1, most + 1):
        done = api.post(f"/api/v1/work/leases/{lease}/submit/", {"label": "cat", "next": True, **body},
                        format="json")
        assert done.status_code == 201, done.content
        if WorkerJobStats.objects.filter(job=job, worker=worker, flagged_fast_at__isnull=False).exists():
            return answered
        lease = done.json()["next"]["lease"]
    return None


def test_a_bot_claiming_45_seconds_is_flagged_as_soon_as_one_that_sends_no_time(
    walter: User, client_for: Any
) -> None:
    job = paced_job(walter)
    quiet, claiming = WorkerFactory(username="quiet"), WorkerFactory(username="claiming")
    plain = answers_until_flagged(client_for(quiet), job, quiet, {})
    claimed = answers_until_flagged(client_for(claiming), job, claiming, {"seconds_spent": "45.000"})
    assert plain == RULES["fast_window"]  # flagged once a full window of quick answers is in
    assert claimed == plain
    # What the worker's own figures and the client's data browser show is what the server saw.
    times = Judgment.objects.filter(job=job, worker=claiming).values_list("seconds_spent", flat=True)
    assert all(seconds < 1 for seconds in times)
    (own,) = client_for(claiming).get("/api/v1/me/quality/").json()["jobs"]
    assert own["median_seconds"] < 1 and own["flagged_fast_at"] is not None


def test_a_time_larger_than_the_server_measured_is_cut_to_the_measure(wendy: User, client_for: Any) -> None:
    job = gold_job(gold=0, gold_rate="0", items=5)
    api = client_for(wendy)
    lease = api.post("/api/v1/work/next/", {"job": job.pk}, format="json").json()["lease"]
    held_for(lease, 10)  # the item has been the worker's for ten seconds
    done = api.post(f"/api/v1/work/leases/{lease}/submit/", {"label": "cat", "seconds_spent": "45"}, format="json")
    assert done.status_code == 201, done.content
    judgment = Judgment.objects.get(pk=done.json()["judgment"])
    measured = judgment.created_at - Lease.objects.get(pk=lease).created_at
    assert Decimal("10") <= judgment.seconds_spent < Decimal("11")
    assert judgment.seconds_spent == Decimal(str(measured.total_seconds())).quantize(Decimal("0.001"))


def test_the_labeling_pages_smaller_figure_is_kept_for_an_item_it_fetched_ahead(wendy: User) -> None:
    """The page fetches the next item while the worker labels the one on screen, and times each
    from when it showed it: later than its lease began, so its figure is the smaller and kept."""
    job = gold_job(gold=0, gold_rate="0", items=5)
    page = signed_in(wendy)
    first = post_json(page, reverse("work-label-next", args=[job.pk])).json()["next"]["lease"]
    ahead = post_json(page, reverse("work-label-next", args=[job.pk]), {"ahead_of": first}).json()["next"]["lease"]
    assert ahead != first
    held_for(first, 20)
    held_for(ahead, 20)  # fetched with the first, 20 s ago; shown only once the first was answered
    answered = post_json(page, reverse("work-label-answer", args=[first]),
                         {"label": "cat", "seconds_spent": "12.500", "ahead_of": ahead})
    assert answered.status_code == 200, answered.content
    answered = post_json(page, reverse("work-label-answer", args=[ahead]), {"label": "dog", "seconds_spent": "7.250"})
    assert answered.status_code == 200, answered.content
    assert sorted(Judgment.objects.filter(worker=wendy).values_list("seconds_spent", flat=True)) == [
        Decimal("7.250"), Decimal("12.500"),
    ]
