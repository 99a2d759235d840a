"""Expert review over HTTP: experts take and settle items; the job's client sees how many and why.

Cast: Acme's dynamic job (owned by Alice) stays split between Wendy ("cat") and Walter ("dog") on
every item, so each goes to expert review. Erin is an expert; Carol (Globex) must see nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from marketplace.labeling.services import lease_claim
from marketplace.quality import experts
from marketplace.quality.models import ExpertReview
from tests.factories import WorkerFactory, grant, open_job_with_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def erin(db: object) -> User:
    expert = WorkerFactory(username="erin")
    grant(expert, experts.expert_qualification())
    return expert


@pytest.fixture
def split_job(alice: User, wendy: User, walter: User) -> Job:
    job = open_job_with_items(
        items=3, overlap=2, max_overlap=2, target_confidence=Decimal("0.95"), organization=alice.organization
    )
    for worker, label in ((wendy, "cat"), (walter, "dog")):
        for _ in range(3):
            flows.work_submit(worker=worker, lease_id=lease_claim(worker=worker, job=job).pk, label=label)
    return job


def test_an_expert_gets_the_item_labels_and_the_crowds_judgments_without_worker_identities(
    client_for: Any, erin: User, split_job: Job, wendy: User, walter: User
) -> None:
    response = client_for(erin).post("/api/v1/expert/next/", {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "open" and body["item"]["data"]["text"].startswith("item ")
    assert [label["key"] for label in body["job"]["labels"]] == ["cat", "dog", "bird"]
    assert body["crowd"]["counts"] == {"cat": 1, "dog": 1, "bird": 0}
    assert {j["worker"] for j in body["crowd"]["judgments"]} == {"Worker 1", "Worker 2"}
    text = response.content.decode()
    for secret in ("wendy", "walter", f'"worker": {wendy.pk}', "external_id"):
        assert secret not in text
    assert body["confidence"] < 0.95 and "maximum of 2 judgments" in body["reason"]


def test_asking_again_returns_the_same_review(client_for: Any, erin: User, split_job: Job) -> None:
    api = client_for(erin)
    first = api.post("/api/v1/expert/next/", {"job": split_job.pk}, format="json").json()["id"]
    assert api.post("/api/v1/expert/next/", {}, format="json").json()["id"] == first
    assert api.get(f"/api/v1/expert/reviews/{first}/").json()["id"] == first


def test_an_expert_settles_a_review_with_a_label_of_the_job(client_for: Any, erin: User, split_job: Job) -> None:
    api = client_for(erin)
    review = api.post("/api/v1/expert/next/", {}, format="json").json()["id"]
    refused = api.post(f"/api/v1/expert/reviews/{review}/settle/", {"label": "zebra"}, format="json")
    assert refused.status_code == 400
    settled = api.post(f"/api/v1/expert/reviews/{review}/settle/", {"label": "dog"}, format="json")
    assert settled.status_code == 200
    assert settled.json()["status"] == "settled" and settled.json()["label"] == "dog"
    assert ExpertReview.objects.get(pk=review).settled_by_id == erin.pk


def test_workers_and_clients_are_not_experts(
    client_for: Any, wendy: User, alice: User, split_job: Job
) -> None:
    review = ExpertReview.objects.filter(job=split_job).first()
    for user in (wendy, alice):
        api = client_for(user)
        assert api.post("/api/v1/expert/next/", {}, format="json").status_code == 403
        assert api.get(f"/api/v1/expert/reviews/{review.pk}/").status_code == 403
        settle = api.post(f"/api/v1/expert/reviews/{review.pk}/settle/", {"label": "cat"}, format="json")
        assert settle.status_code == 403


def test_nothing_waiting_is_a_no_work_answer(client_for: Any, erin: User) -> None:
    response = client_for(erin).post("/api/v1/expert/next/", {}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "no_work"


def test_the_client_sees_how_many_items_went_to_experts_and_why(
    client_for: Any, alice: User, bob: User, erin: User, split_job: Job
) -> None:
    review = experts.expert_review_claim(expert=erin)
    experts.expert_review_settle(expert=erin, review_id=review.pk, label="bird")
    response = client_for(bob).get(f"/api/v1/jobs/{split_job.pk}/expert-reviews/?page_size=2")
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {"open": 2, "settled": 1, "total": 3}
    assert len(body["reasons"]) == 1 and body["reasons"][0]["open"] == 2 and body["reasons"][0]["settled"] == 1
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    first = body["results"][0]
    assert first["status"] == "settled" and first["label"] == "bird"
    assert first["crowd"] == {"cat": 1, "dog": 1} and first["item"]["external_id"].startswith("i")
    assert "erin" not in response.content.decode()  # who settled it is not the client's business
    open_only = client_for(alice).get(f"/api/v1/jobs/{split_job.pk}/expert-reviews/?status=open").json()
    assert [row["status"] for row in open_only["results"]] == ["open", "open"]
    assert client_for(alice).get(f"/api/v1/jobs/{split_job.pk}/expert-reviews/?status=nope").status_code == 400


def test_another_organization_and_workers_cannot_see_a_jobs_reviews(
    client_for: Any, carol: User, wendy: User, ada: User, split_job: Job
) -> None:
    url = f"/api/v1/jobs/{split_job.pk}/expert-reviews/"
    assert client_for(carol).get(url).status_code == 404
    assert client_for(wendy).get(url).status_code == 403
    assert client_for(ada).get(url).json()["counts"]["total"] == 3
