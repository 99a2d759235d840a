"""Helpers for the worker-quality tests: workers that label through the real claim/submit flow."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock

from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.flows import WorkSubmitted, work_submit
from marketplace.jobs.models import Job
from marketplace.labeling import claiming
from marketplace.labeling.services import lease_claim
from tests.labeling.helpers import held_for


@contextmanager
def hours_later(hours: float = 2) -> Iterator[None]:
    """The clock moved on by `hours` (as tests/billing's journeys move it): a worker's own counts
    in a job that hides gold feedback take in answers an hour old and more (quality/own_figures.py)."""
    later = timezone.now() + timedelta(hours=hours)
    with mock.patch("django.utils.timezone.now", return_value=later):
        yield


@contextmanager
def clock(moment: datetime) -> Iterator[None]:
    """The clock stopped at `moment` (as hours_later moves it)."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def gold_job(*, items: int = 40, gold: int = 30, gold_rate: str = "0.5", **fields: object) -> Job:
    """An open job whose gold items all have the answer "cat" (so "dog" is a miss)."""
    from tests.factories import open_job_with_items

    claiming._rng.seed(7)  # gold draws only decide when gold shows up; fixed so tests repeat
    return open_job_with_items(items=items, gold=gold, gold_rate=Decimal(gold_rate), **fields)


def answer_gold(
    worker: User, job: Job, *, right: int, wrong: int, seconds: str = "5", regular: str = "cat"
) -> list[WorkSubmitted]:
    """Work until `right` correct and then `wrong` missed gold answers are given; regular items
    in between get `regular`. Returns every submit's outcome."""
    plan = [True] * right + [False] * wrong
    done: list[WorkSubmitted] = []
    for _ in range(10_000):
        if not plan:
            return done
        lease = lease_claim(worker=worker, job=job)
        if lease.item.is_gold:
            label = "cat" if plan.pop(0) else "dog"
        else:
            label = regular
        held_for(lease, seconds)  # the server's measure, which the figure sent can only lower
        done.append(work_submit(worker=worker, lease_id=lease.pk, label=label, seconds_spent=seconds))
    raise AssertionError("ran out of attempts before the gold plan was done")


def answer_regular(worker: User, job: Job, *, count: int, label: str = "cat", seconds: str = "5") -> list[WorkSubmitted]:
    """Submit `count` regular judgments; gold items met on the way are answered right."""
    done: list[WorkSubmitted] = []
    while sum(not d.judgment.is_gold for d in done) < count:
        lease = lease_claim(worker=worker, job=job)
        given = "cat" if lease.item.is_gold else label
        held_for(lease, seconds)
        done.append(work_submit(worker=worker, lease_id=lease.pk, label=given, seconds_spent=seconds))
    return done
