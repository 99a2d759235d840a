"""Multi-label jobs: creating one, and submitting a set of labels through the worker API.

Alice (a client of Acme) creates jobs; Wendy is a worker who labels them.
"""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.accounts.models import User
from marketplace.jobs.models import GoldAnswer, Job
from marketplace.labeling.models import Judgment, Lease
from marketplace.flows import work_submit
from marketplace.labeling.services import lease_claim
from tests.factories import open_job_with_items
from tests.quality.worker_helpers import gold_job
from tests.labeling.test_api_work import error

pytestmark = pytest.mark.django_db

LABELS = [{"key": "cat"}, {"key": "dog"}, {"key": "bird"}]


def take(api: Any, job_id: int) -> dict[str, Any]:
    response = api.post("/api/v1/work/next/", {"job": job_id}, format="json")
    assert response.status_code == 200, response.content
    return dict(response.json())


def submit(api: Any, lease_id: int, **body: Any) -> Any:
    return api.post(f"/api/v1/work/leases/{lease_id}/submit/", body, format="json")


def test_a_client_creates_a_multi_label_job_and_cannot_make_it_dynamic(alice: User, client_for: Any) -> None:
    api = client_for(alice)
    made = api.post("/api/v1/jobs/", {"title": "Pets", "labels": LABELS, "multi_label": True}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["multi_label"] is True and Job.objects.get(pk=made.json()["id"]).multi_label
    plain = api.post("/api/v1/jobs/", {"title": "Pet", "labels": LABELS}, format="json")
    assert plain.json()["multi_label"] is False
    dynamic = api.post("/api/v1/jobs/", {
        "title": "Pets", "labels": LABELS, "multi_label": True, "overlap": 1, "max_overlap": 3,
        "target_confidence": "0.9",
    }, format="json")
    assert "dynamic overlap is for single-label jobs" in error(dynamic, 400, "invalid")
    not_bool = api.post("/api/v1/jobs/", {"title": "P", "labels": LABELS, "multi_label": "yes"}, format="json")
    assert not_bool.status_code == 400


def test_the_option_cannot_change_once_the_job_is_published(alice: User, client_for: Any) -> None:
    job = open_job_with_items(items=1, organization=alice.organization)
    response = client_for(alice).patch(f"/api/v1/jobs/{job.pk}/", {"multi_label": True}, format="json")
    assert response.status_code == 409
    job.refresh_from_db()
    assert job.multi_label is False


def test_a_worker_submits_any_subset_and_it_is_saved_in_the_jobs_label_order(
    wendy: User, client_for: Any,
) -> None:
    job = open_job_with_items(items=2, overlap=1, multi_label=True)
    api = client_for(wendy)
    lease = take(api, job.pk)
    assert lease["job"]["multi_label"] is True
    done = submit(api, lease["lease"], labels=["bird", "cat"])
    assert done.status_code == 201, done.content
    assert (done.json()["label"], done.json()["labels"]) == ("", ["cat", "bird"])
    judgment = Judgment.objects.get(pk=done.json()["judgment"])
    assert (judgment.label, judgment.labels) == ("", ["cat", "bird"])
    assert submit(api, lease["lease"], labels=["cat", "bird"]).status_code == 200  # a safe retry
    empty = submit(api, take(api, job.pk)["lease"], labels=[])
    assert empty.status_code == 201 and empty.json()["labels"] == []
    mine = api.get("/api/v1/work/judgments/").json()["results"]
    assert sorted(tuple(j["labels"]) for j in mine) == [(), ("cat", "bird")]


@pytest.mark.parametrize(("body", "says"), [
    ({"labels": ["cat", "zebra"]}, "Unknown label 'zebra'"),
    ({"labels": ["cat", "cat"]}, "sent twice"),
    ({"label": "cat"}, "send `labels`"),
    ({"labels": "cat"}, ""),
])
def test_a_bad_set_is_refused_and_nothing_is_saved(
    wendy: User, client_for: Any, body: dict[str, Any], says: str,
) -> None:
    job = open_job_with_items(items=1, overlap=1, multi_label=True)
    api = client_for(wendy)
    lease = take(api, job.pk)
    response = submit(api, lease["lease"], **body)
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"error"} and says in response.json()["error"]["message"]
    assert not Judgment.objects.exists()
    assert Lease.objects.get(pk=lease["lease"]).status == "active"


def test_a_single_label_job_refuses_a_set(wendy: User, client_for: Any) -> None:
    job = open_job_with_items(items=1, overlap=1)
    api = client_for(wendy)
    lease = take(api, job.pk)
    assert "multi_label" not in lease["job"]
    assert "send `label`, not `labels`" in error(submit(api, lease["lease"], labels=["cat"]), 400, "invalid")
    missing = submit(api, lease["lease"])
    assert missing.status_code == 400 and "label" in missing.json()["error"]["message"]
    assert submit(api, lease["lease"], label="cat").json()["label"] == "cat"
    assert not Judgment.objects.exclude(labels=None).exists()


def test_multi_label_gold_is_right_only_when_every_label_is_decided_right(wendy: User) -> None:
    job = gold_job(items=20, gold=10, multi_label=True, quality_rules={"gold_feedback": True})
    GoldAnswer.objects.filter(item__job=job).update(label="", labels=["cat", "dog"], explanation="Both.")
    scored, feedback = [], None
    while len(scored) < 2:
        lease = lease_claim(worker=wendy, job=job)
        labels = (["dog", "cat"] if not scored else ["cat"]) if lease.item.is_gold else []
        outcome = work_submit(worker=wendy, lease_id=lease.pk, label=None, labels=labels)
        if outcome.judgment.is_gold:
            scored.append(outcome.judgment.is_correct)
            feedback = outcome.feedback
    assert scored == [True, False]  # ["cat"] decides "cat" and "bird" right, "dog" wrong: a miss
    assert feedback is not None
    assert (feedback["correct_labels"], feedback["your_labels"]) == (["cat", "dog"], ["cat"])
