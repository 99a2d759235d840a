"""The work list offers only jobs with something left for the worker (work_offers_for).

Wendy has judged every item of a small job; Walter has judged none of it.
"""

from __future__ import annotations

import pytest

from marketplace.accounts.models import User
from marketplace.labeling.selectors import work_offers_for
from marketplace.labeling.services import judgment_submit, lease_claim, lease_release
from tests.factories import open_job_with_items

pytestmark = pytest.mark.django_db


def offered(worker: User) -> list[str]:
    return [offer.job.title for offer in work_offers_for(worker=worker)]


def test_a_job_the_worker_has_finished_leaves_their_work_list_but_not_anothers(wendy: User, walter: User) -> None:
    job = open_job_with_items(items=2, overlap=3, title="Done by Wendy")
    open_job_with_items(items=2, overlap=3, title="Still open")
    assert offered(wendy) == ["Done by Wendy", "Still open"]

    for _ in range(2):
        judgment_submit(worker=wendy, lease_id=lease_claim(worker=wendy, job=job).pk, label="cat")

    assert offered(wendy) == ["Still open"]
    assert offered(walter) == ["Done by Wendy", "Still open"]  # the items still need his judgments


def test_a_job_whose_last_item_the_worker_skipped_leaves_their_list(wendy: User) -> None:
    job = open_job_with_items(items=1, overlap=3, title="Skipped")
    lease_release(worker=wendy, lease_id=lease_claim(worker=wendy, job=job).pk)

    assert offered(wendy) == []  # a skipped item is never offered to them again
