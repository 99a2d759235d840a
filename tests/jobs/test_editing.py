"""A draft's items deleted, a draft deleted, a running job's instructions edited as a version.

Alice owns the jobs (Acme); Carol is at Globex and must see none of them; Wendy and Walter are
workers who label before and after an edit.
"""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.accounts.models import User
from marketplace.billing.models import JobBudget
from marketplace.jobs.models import Item, Job, JobInstructions
from marketplace.labeling.models import Judgment
from tests.factories import open_job_with_items

pytestmark = pytest.mark.django_db


def draft(alice: User, *, items: int = 3, gold: int = 0) -> Job:
    return open_job_with_items(items=items, gold=gold, publish=False, organization=alice.organization)


def running(alice: User, **fields: Any) -> Job:
    return open_job_with_items(items=4, organization=alice.organization, **fields)


def item_ids(job: Job, *, gold: bool = False) -> list[int]:
    return list(Item.objects.filter(job=job, is_gold=gold).order_by("pk").values_list("pk", flat=True))


def counts(job: Job) -> tuple[int, int]:
    job.refresh_from_db(fields=["item_count", "gold_item_count"])
    return job.item_count, job.gold_item_count


# Items of a draft ------------------------------------------------------------------------------


def test_a_client_deletes_one_item_of_her_draft_and_the_count_follows(alice: User, client_for: Any) -> None:
    job = draft(alice)
    first, *rest = item_ids(job)
    response = client_for(alice).delete(f"/api/v1/jobs/{job.pk}/items/{first}/")
    assert response.status_code == 204
    assert item_ids(job) == rest and counts(job) == (2, 0)


def test_a_gold_item_is_deleted_under_gold_with_its_answer(alice: User, client_for: Any) -> None:
    job = draft(alice, gold=2)
    gold = item_ids(job, gold=True)
    assert client_for(alice).delete(f"/api/v1/jobs/{job.pk}/gold/{gold[0]}/").status_code == 204
    assert item_ids(job, gold=True) == gold[1:] and counts(job) == (3, 1)
    # A gold id under /items/ is not found, as for reads.
    assert client_for(alice).delete(f"/api/v1/jobs/{job.pk}/items/{gold[1]}/").status_code == 404


def test_remove_all_empties_the_draft_for_a_new_upload_but_keeps_gold(alice: User, client_for: Any) -> None:
    job = draft(alice, items=5, gold=2)
    api = client_for(alice)
    response = api.post(f"/api/v1/jobs/{job.pk}/items/delete/", {"all": True}, format="json")
    assert response.status_code == 200
    assert response.json() == {"deleted": 5, "item_count": 0, "gold_item_count": 2}
    upload = api.post(f"/api/v1/jobs/{job.pk}/items/?format=csv", "text\nnew one\n", content_type="text/csv")
    assert upload.status_code == 201 and upload.json()["item_count"] == 1


def test_remove_all_with_gold_and_chosen_ids(alice: User, client_for: Any) -> None:
    job = draft(alice, items=3, gold=2)
    api = client_for(alice)
    chosen = item_ids(job)[:2] + item_ids(job, gold=True)[:1]
    response = api.post(f"/api/v1/jobs/{job.pk}/items/delete/", {"ids": chosen}, format="json")
    assert response.json() == {"deleted": 3, "item_count": 1, "gold_item_count": 1}
    everything = api.post(f"/api/v1/jobs/{job.pk}/items/delete/", {"all": True, "include_gold": True}, format="json")
    assert everything.json()["deleted"] == 2 and not Item.objects.filter(job=job).exists()


@pytest.mark.parametrize(
    "body",
    [{"ids": []}, {"ids": ["x"]}, {"ids": [True]}, {"ids": 3}, {}, {"ids": [1], "all": True}, {"all": "yes"},
     {"all": True, "include_gold": "no"}, {"everything": True}],
)
def test_bad_delete_requests_get_a_400_and_delete_nothing(alice: User, client_for: Any, body: Any) -> None:
    job = draft(alice)
    response = client_for(alice).post(f"/api/v1/jobs/{job.pk}/items/delete/", body, format="json")
    assert response.status_code == 400, response.content
    assert counts(job) == (3, 0) and len(item_ids(job)) == 3


def test_an_unknown_id_among_good_ones_deletes_nothing(alice: User, client_for: Any) -> None:
    job, other = draft(alice), draft(alice)
    ids = item_ids(job)[:1] + item_ids(other)[:1]  # the second is another job's item
    response = client_for(alice).post(f"/api/v1/jobs/{job.pk}/items/delete/", {"ids": ids}, format="json")
    assert response.status_code == 400 and str(ids[1]) in response.json()["error"]["message"]
    assert len(item_ids(job)) == 3 and len(item_ids(other)) == 3


def test_items_of_a_published_job_cannot_be_deleted(alice: User, client_for: Any) -> None:
    job = running(alice)
    api = client_for(alice)
    one = api.delete(f"/api/v1/jobs/{job.pk}/items/{item_ids(job)[0]}/")
    every = api.post(f"/api/v1/jobs/{job.pk}/items/delete/", {"all": True}, format="json")
    assert (one.status_code, every.status_code) == (409, 409)
    assert "draft" in one.json()["error"]["message"]
    assert counts(job) == (4, 0) and len(item_ids(job)) == 4


def test_another_organization_cannot_delete_items_it_cannot_see(alice: User, carol: User, client_for: Any) -> None:
    job = draft(alice)
    api = client_for(carol)
    assert api.delete(f"/api/v1/jobs/{job.pk}/items/{item_ids(job)[0]}/").status_code == 404
    assert api.post(f"/api/v1/jobs/{job.pk}/items/delete/", {"all": True}, format="json").status_code == 404
    assert len(item_ids(job)) == 3


# The draft itself --------------------------------------------------------------------------------


def test_a_client_deletes_her_draft_with_its_items(alice: User, client_for: Any) -> None:
    job = draft(alice, gold=1)
    assert client_for(alice).delete(f"/api/v1/jobs/{job.pk}/").status_code == 204
    assert not Job.objects.filter(pk=job.pk).exists() and not Item.objects.filter(job_id=job.pk).exists()


def test_a_published_job_cannot_be_deleted_and_keeps_its_budget(alice: User, client_for: Any) -> None:
    job = running(alice)
    response = client_for(alice).delete(f"/api/v1/jobs/{job.pk}/")
    assert response.status_code == 409 and "draft" in response.json()["error"]["message"]
    assert Job.objects.filter(pk=job.pk).exists() and JobBudget.objects.filter(job=job).exists()


def test_another_organization_cannot_delete_a_draft(alice: User, carol: User, client_for: Any) -> None:
    job = draft(alice)
    assert client_for(carol).delete(f"/api/v1/jobs/{job.pk}/").status_code == 404
    assert Job.objects.filter(pk=job.pk).exists()


# Instructions of a running job -------------------------------------------------------------------


def take(api: Any, job: Job) -> dict[str, Any]:
    response = api.post("/api/v1/work/next/", {"job": job.pk}, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def submit(api: Any, lease: dict[str, Any]) -> int:
    response = api.post(f"/api/v1/work/leases/{lease['lease']}/submit/", {"label": "cat"}, format="json")
    assert response.status_code == 201, response.content
    return int(response.json()["judgment"])


def edit(api: Any, job: Job, text: Any) -> Any:
    return api.patch(f"/api/v1/jobs/{job.pk}/instructions/", {"instructions": text}, format="json")


def test_judgments_record_the_version_their_item_was_claimed_under(
    alice: User, wendy: User, walter: User, client_for: Any
) -> None:
    job = running(alice, overlap=2)
    wendy_api, walter_api = client_for(wendy), client_for(walter)
    before = submit(wendy_api, take(wendy_api, job))
    held = take(walter_api, job)  # claimed under version 1, submitted after the edit
    edited = edit(client_for(alice), job, "Pick the **animal**; a toy counts as none.")
    assert edited.status_code == 200 and edited.json()["instructions_version"] == 2
    late = submit(walter_api, held)
    after_lease = take(wendy_api, job)
    assert "<strong>animal</strong>" in after_lease["job"]["instructions_html"]  # workers see the new text
    after = submit(wendy_api, after_lease)
    versions = dict(Judgment.objects.filter(pk__in=[before, late, after]).values_list("pk", "instructions_version"))
    assert versions == {before: 1, late: 1, after: 2}


def test_each_edit_is_kept_as_a_version_with_its_author(alice: User, client_for: Any) -> None:
    job = running(alice)
    api = client_for(alice)
    edit(api, job, "Second")
    edit(api, job, "Second")  # the same text again makes no version
    edit(api, job, "Third")
    history = list(JobInstructions.objects.filter(job=job).order_by("version").values_list("version", "text", "created_by"))
    assert history == [(1, "Pick the animal in the picture.", None), (2, "Second", alice.pk), (3, "Third", alice.pk)]
    assert api.get(f"/api/v1/jobs/{job.pk}/").json()["instructions"] == "Third"


@pytest.mark.parametrize("text", ["[" * 5000, None, 42, "x" * 300_000])
def test_bad_instructions_get_a_400_and_change_nothing(alice: User, client_for: Any, text: Any) -> None:
    job = running(alice)
    response = edit(client_for(alice), job, text)
    assert response.status_code == 400, response.content
    job.refresh_from_db()
    assert (job.instructions_version, job.instructions) == (1, "Pick the animal in the picture.")
    assert not JobInstructions.objects.filter(job=job).exists()


def test_only_a_running_job_gets_instruction_versions(alice: User, carol: User, client_for: Any) -> None:
    job = draft(alice)
    refused = edit(client_for(alice), job, "New")
    assert refused.status_code == 409 and "draft" in refused.json()["error"]["message"]
    assert edit(client_for(carol), running(alice), "Mine now").status_code == 404
