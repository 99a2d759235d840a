"""Gold for a multi-label job: each gold item's known set, imported as CSV ("cat|dog") or JSON (a
list). Alice (a client of Acme) sets up the jobs."""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.accounts.models import User
from marketplace.jobs.models import GoldAnswer, Item, Job
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice: User) -> Job:
    return JobFactory(organization=alice.organization, created_by=alice, multi_label=True)


def _sets(job: Job) -> dict[str, list[str]]:
    return dict(GoldAnswer.objects.filter(item__job=job).values_list("item__data__text", "labels"))


def test_gold_sets_come_in_from_csv_and_json(job: Job, alice: User, client_for: Any) -> None:
    api = client_for(alice)
    csv_body = "text,label\nboth,dog|cat\nnone,\nbird,bird\n"
    assert api.post(f"/api/v1/jobs/{job.pk}/gold/", csv_body, content_type="text/csv").status_code == 201
    json_body = '[{"text": "listed", "label": ["bird", "cat"]}, {"text": "empty", "label": []}]'
    response = api.post(f"/api/v1/jobs/{job.pk}/gold/", json_body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert _sets(job) == {"both": ["cat", "dog"], "none": [], "bird": ["bird"], "listed": ["cat", "bird"],
                          "empty": []}
    assert set(GoldAnswer.objects.filter(item__job=job).values_list("label", flat=True)) == {""}


@pytest.mark.parametrize("body", ["text,label\nx,cat|cow\n", "text,label\nx,cat|cat\n", "text\nx\n"])
def test_a_bad_gold_set_is_a_400_and_nothing_is_saved(job: Job, alice: User, client_for: Any, body: str) -> None:
    response = client_for(alice).post(f"/api/v1/jobs/{job.pk}/gold/", body, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_import"
    assert not Item.objects.filter(job=job).exists()


def test_a_draft_with_gold_sets_keeps_its_labels_editable(job: Job, alice: User, client_for: Any) -> None:
    api = client_for(alice)
    api.post(f"/api/v1/jobs/{job.pk}/gold/", "text,label\nx,cat|dog\n", content_type="text/csv")
    dropped = api.patch(f"/api/v1/jobs/{job.pk}/", {"labels": [{"key": "cat"}, {"key": "bird"}]}, format="json")
    assert dropped.status_code == 400 and "dog" in dropped.json()["error"]["message"]
    renamed = api.patch(
        f"/api/v1/jobs/{job.pk}/", {"labels": [{"key": "cat"}, {"key": "dog"}, {"key": "fox"}]}, format="json",
    )
    assert renamed.status_code == 200, renamed.content
