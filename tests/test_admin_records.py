"""The Django admin shows the records only services write (marketplace/admin_records.py): staff
can find and read a suspension, a quality event or an appeal, and can neither add, change nor
delete one, so nobody bypasses the services that keep them consistent."""

from __future__ import annotations

import pytest
from django.test import Client

from marketplace.accounts.models import Suspension, User
from marketplace.accounts.services import user_suspend

pytestmark = pytest.mark.django_db
RECORDS = [
    "accounts/suspension", "quality/qualityevent", "quality/expertreview", "quality/collusionflag",
    "quality/appeal", "quality/withdrawalreview", "quality/workerskill",
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
