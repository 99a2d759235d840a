"""Platform-wide suspension (accounts.services.user_suspend / user_unsuspend): Ada (admin)
suspends Wendy with a reason and evidence; from then on Wendy claims and submits nothing in any
job, even with a lease she took before; Alice (a client) may not suspend anyone."""

from __future__ import annotations

import pytest

from marketplace.accounts.models import User
from marketplace.accounts.services import user_suspend, user_unsuspend
from marketplace.errors import ApplicationError, Conflict, NotQualified, PermissionDenied
from marketplace.flows import work_submit
from marketplace.labeling.services import lease_claim
from tests.factories import open_job_with_items

pytestmark = pytest.mark.django_db


def test_a_suspended_worker_claims_and_submits_nothing_in_any_job(wendy: User, ada: User) -> None:
    first, second = open_job_with_items(items=3), open_job_with_items(items=3)
    lease = lease_claim(worker=wendy, job=first)

    user_suspend(worker=wendy, actor=ada, reason="Colluding with walter", evidence="98% agreement on 400 items")

    wendy.refresh_from_db()
    assert (wendy.suspension_reason, wendy.suspension_evidence, wendy.suspended_by) == (
        "Colluding with walter", "98% agreement on 400 items", ada)
    for job in (first, second):
        with pytest.raises(NotQualified, match="suspended"):
            lease_claim(worker=wendy, job=job)
    with pytest.raises(NotQualified, match="suspended"):
        work_submit(worker=wendy, lease_id=lease.pk, label="cat")


def test_a_suspension_needs_an_admin_a_reason_and_happens_once(wendy: User, ada: User, alice: User) -> None:
    with pytest.raises(PermissionDenied):
        user_suspend(worker=wendy, actor=alice, reason="I do not like her")
    with pytest.raises(ApplicationError, match="reason"):
        user_suspend(worker=wendy, actor=ada, reason="   ")
    with pytest.raises(ApplicationError, match="at most"):
        user_suspend(worker=wendy, actor=ada, reason="r", evidence="e" * 2001)
    with pytest.raises(ApplicationError, match="Only worker"):
        user_suspend(worker=alice, actor=ada, reason="not a worker")
    user_suspend(worker=wendy, actor=ada, reason="Fraud")
    with pytest.raises(Conflict):
        user_suspend(worker=wendy, actor=ada, reason="Fraud again")


def test_lifting_a_suspension_lets_the_worker_back(wendy: User, ada: User) -> None:
    job = open_job_with_items(items=2)
    user_suspend(worker=wendy, actor=ada, reason="Checking a report")
    user_unsuspend(worker=wendy, actor=ada)
    wendy.refresh_from_db()
    assert wendy.suspended_at is None and wendy.suspension_reason == ""
    assert lease_claim(worker=wendy, job=job) is not None
    with pytest.raises(Conflict):
        user_unsuspend(worker=wendy, actor=ada)


def test_every_suspension_stays_on_record_after_it_is_lifted(wendy: User, ada: User) -> None:
    user_suspend(worker=wendy, actor=ada, reason="Spam answers", evidence="job 3: 40 answers in a minute")
    user_unsuspend(worker=wendy, actor=ada, note="A page bug, not her")
    user_suspend(worker=wendy, actor=ada, reason="Colluding")

    newest, first = wendy.suspensions.order_by("-id")
    assert (first.reason, first.evidence, first.suspended_by, first.lifted_by, first.lift_note) == (
        "Spam answers", "job 3: 40 answers in a minute", ada, ada, "A page bug, not her")
    assert first.lifted_at is not None and first.lifted_at >= first.suspended_at
    assert (newest.reason, newest.lifted_at) == ("Colluding", None)
    with pytest.raises(ApplicationError, match="at most"):
        user_unsuspend(worker=wendy, actor=ada, note="n" * 2001)
    assert wendy.suspensions.filter(lifted_at__isnull=True).count() == 1  # the refused lift changed nothing
