"""The work list's "items left" of a job that hides gold feedback reads one recorded count a job.

Counting the items answered since the hourly cutoff walked every judgment of the hour, on each
load of the worker's home page. A periodic job now records each such job's completed items once
an hour, and the list reads that.

The cast: Acme's "Closed book" job hides gold feedback; "Open book" shows it. Walter labels,
Wendy reads her work list.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from marketplace.flows import job_cancel
from marketplace.quality.models import ProgressSnapshot
from marketplace.quality.own_figures import step_at
from marketplace.quality.tasks import progress_snapshots_tick
from tests.factories import open_job_with_items
from tests.labeling.helpers import signed_in
from tests.quality.worker_helpers import answer_regular, clock

pytestmark = pytest.mark.django_db

CLOSED = {"gold_feedback": False, "min_gold_answers": 1000}


def recorded() -> list[tuple[str, datetime, int]]:
    return [(row.job.title, row.taken_at, row.completed_item_count)
            for row in ProgressSnapshot.objects.select_related("job").order_by("job_id", "taken_at")]


def test_the_periodic_job_records_each_hiding_job_once_an_hour_and_a_second_tick_changes_nothing(
    walter: User, alice: User
) -> None:
    closed = open_job_with_items(title="Closed book", items=6, overlap=1, quality_rules=CLOSED,
                                 organization=alice.organization)
    open_job_with_items(title="Open book", items=6, overlap=1)  # live counts: nothing to record
    open_job_with_items(title="Draft", items=6, publish=False, quality_rules=CLOSED)
    hour = step_at(timezone.now()) + timedelta(hours=2)

    with clock(hour + timedelta(minutes=1)):
        assert progress_snapshots_tick() == 1
        answer_regular(walter, closed, count=2)
    with clock(hour + timedelta(minutes=59)):
        assert progress_snapshots_tick() == 0  # this hour's count stands, as read at its first tick
    assert recorded() == [("Closed book", hour, 0)]

    with clock(hour + timedelta(hours=1, minutes=3)):
        assert progress_snapshots_tick() == 1
        assert progress_snapshots_tick() == 0
    assert recorded() == [("Closed book", hour, 0), ("Closed book", hour + timedelta(hours=1), 2)]

    # Hours later (the ticks stopped meanwhile) the row the cutoff now reads is kept, older ones go.
    with clock(hour + timedelta(hours=5)):
        progress_snapshots_tick()
    assert recorded() == [("Closed book", hour + timedelta(hours=1), 2), ("Closed book", hour + timedelta(hours=5), 2)]

    job_cancel(job=closed, user=alice)
    progress_snapshots_tick()
    assert recorded() == []  # an ended job's rows go with it


def items_left(page: object, job: Job) -> int:
    offers = page.get(reverse("work-list")).context["ready"]  # type: ignore[attr-defined]
    (offer,) = [offer for offer in offers if offer["job"].pk == job.pk]
    return int(offer["items_left"])


def test_a_job_with_no_recorded_hour_shows_every_item_left_and_a_missed_hour_the_hour_before(
    wendy: User, walter: User
) -> None:
    """No row at or before the cutoff shows nothing done, which can only hide a completion: the
    list still says live whether there is work for her at all."""
    closed = open_job_with_items(title="Closed book", items=8, overlap=1, quality_rules=CLOSED)
    hour = step_at(timezone.now()) + timedelta(hours=2)
    page = signed_in(wendy)
    with clock(hour):
        answer_regular(walter, closed, count=2)
        progress_snapshots_tick()
        answer_regular(walter, closed, count=1)
    with clock(hour + timedelta(minutes=30)):
        assert items_left(page, closed) == 8  # the cutoff is before the first record
    with clock(hour + timedelta(hours=3, minutes=30)):  # no tick for three hours
        assert items_left(page, closed) == 6  # the last record at or before the cutoff


def test_the_work_list_reads_no_judgment_for_items_left_however_many_a_job_has(
    wendy: User, walter: User
) -> None:
    """It once counted the items answered since the cutoff, every load: a walk over every judgment
    of the hour in each job shown. What it reads now is the same whatever the judgments: one query
    on the judgments, the answer-time sample (the latest 100 a job)."""
    busy = open_job_with_items(title="Busy closed book", items=40, overlap=1, quality_rules=CLOSED)
    progress_snapshots_tick()
    page = signed_in(wendy)

    def load() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert page.get(reverse("work-list")).status_code == 200
        return [query["sql"] for query in queries]

    answer_regular(walter, busy, count=1)
    few = load()
    answer_regular(walter, busy, count=30)
    many = load()

    assert len(many) == len(few)
    assert len([sql for sql in many if '"labeling_judgment"' in sql]) == 1
    assert items_left(page, busy) == 40  # this hour's answers wait for the step
