"""The Django admin shows the records only services write (marketplace/admin_records.py): staff
can find and read a suspension, a quality event or an appeal, and can neither add, change nor
delete one, so nobody bypasses the services that keep them consistent."""

from __future__ import annotations

import pytest
from django.test import Client

from marketplace.accounts.models import Suspension, User
from marketplace.accounts.services import user_suspend
from marketplace.jobs.models import Item
from tests.factories import open_job_with_items

pytestmark = pytest.mark.django_db
RECORDS = [
    "accounts/suspension", "quality/qualityevent", "quality/expertreview", "quality/collusionflag",
    "quality/appeal", "quality/withdrawalreview", "quality/workerskill",
    "jobs/job", "jobs/item", "jobs/goldanswer", "quality/consensusrun",
]


@pytest.mark.parametrize("model", RECORDS)
def test_each_record_list_opens_and_offers_no_add(root: Client, model: str) -> None:
    assert root.get(f"/admin/{model}/").status_code == 200
    assert root.get(f"/admin/{model}/add/").status_code == 403


def test_a_suspension_reads_in_full_and_cannot_be_edited_or_deleted(root: Client, wendy: User, ada: User) -> None:
    user_suspend(worker=wendy, actor=ada, reason="Copies a partner", evidence="98% agreement")
    record = Suspension.objects.get()

    page = root.get(f"/admin/accounts/suspension/{record.pk}/change/")

    assert page.status_code == 200 and "Copies a partner" in page.content.decode()
    root.post(f"/admin/accounts/suspension/{record.pk}/change/", {"reason": "nothing happened"})
    assert Suspension.objects.get().reason == "Copies a partner"
    assert root.get(f"/admin/accounts/suspension/{record.pk}/delete/").status_code == 403


def test_a_job_reads_in_the_admin_but_its_status_and_items_change_only_through_the_services(
    root: Client,
) -> None:
    job = open_job_with_items(items=2)
    item = job.items.first()

    assert root.get(f"/admin/jobs/job/{job.pk}/change/").status_code == 200
    root.post(f"/admin/jobs/job/{job.pk}/change/", {"status": "completed", "title": "renamed"})
    job.refresh_from_db()
    assert job.status == "open" and job.title != "renamed"
    for path in (f"/admin/jobs/job/{job.pk}/delete/", f"/admin/jobs/item/{item.pk}/delete/"):
        assert root.get(path).status_code == 403
    assert Item.objects.filter(job=job).count() == 2
