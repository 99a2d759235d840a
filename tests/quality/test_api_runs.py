"""POST/GET /api/v1/jobs/{id}/consensus/: start runs, list them, read one with its workers.

Alice (Acme) owns the job; Carol (Globex) must see nothing; Wendy is a worker; Ada an admin.
"""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.jobs.exporting import worker_pseudonym
from marketplace.jobs.models import Job
from marketplace.quality.models import ConsensusRun, ItemResult
from tests.quality.run_helpers import judged_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(acme: Any, settings: Any) -> Job:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    return judged_job(items=4, answers=("cat", "cat", "dog"), organization=acme)


def _url(job: Job, run: int | None = None) -> str:
    return f"/api/v1/jobs/{job.pk}/consensus/" + (f"{run}/" if run else "")


def test_alice_runs_consensus_inline_and_gets_the_finished_run(
    alice: Any, job: Job, client_for: Any
) -> None:
    response = client_for(alice).post(_url(job), {"method": "mv"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "succeeded" and body["method"] == "mv" and body["items"] == 4
    assert body["labels"] == ["cat", "dog", "bird"]
    assert body["distribution"] == {"cat": {"items": 4}}  # no mean confidence posing as accuracy
    mean = sum(ItemResult.objects.filter(run_id=body["id"]).values_list("confidence", flat=True)) / 4
    assert body["expected_accuracy"]["basis"] == "model" and body["expected_accuracy"]["interval"] is None
    assert body["expected_accuracy"]["model_confidence"] == pytest.approx(mean, abs=1e-6) == pytest.approx(2 / 3)
    assert body["heldout_gold"] is None  # the job has no gold


def test_with_a_background_runner_the_run_is_queued_with_202(
    alice: Any, job: Job, client_for: Any, settings: Any
) -> None:
    settings.QUORUM_TASKS = "thread"
    response = client_for(alice).post(_url(job), {}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "running"
    again = client_for(alice).post(_url(job), {}, format="json")
    assert (
        again.status_code == 409
        and again.json()["error"]["details"]["run"] == response.json()["id"]
    )


def test_an_unknown_method_is_a_400(alice: Any, job: Job, client_for: Any) -> None:
    response = client_for(alice).post(_url(job), {"method": "astrology"}, format="json")
    assert response.status_code == 400 and "astrology" in response.json()["error"]["message"]


@pytest.mark.parametrize("body", ["[]", "[1]", "3", '"mv"', "null", '{"methd": "mv"}'])
def test_a_body_that_is_no_object_or_a_misspelled_field_is_a_400_and_starts_no_run(
    alice: Any, job: Job, client_for: Any, body: str
) -> None:
    runs = ConsensusRun.objects.filter(job=job).count()
    response = client_for(alice).post(_url(job), body, content_type="application/json")
    assert response.status_code == 400, response.content
    message = response.json()["error"]["message"]
    assert ("methd" in message and "method" in message) if "methd" in body else "must be a JSON object" in message
    assert ConsensusRun.objects.filter(job=job).count() == runs


def test_runs_are_listed_newest_first_and_paginated(alice: Any, job: Job, client_for: Any) -> None:
    api = client_for(alice)
    for method in ("mv", "quorum"):
        api.post(_url(job), {"method": method}, format="json")
    body = api.get(_url(job), {"page_size": 2}).json()
    assert body["count"] == 3  # the completion run, then the two asked for
    assert [r["method"] for r in body["results"]] == ["quorum", "mv"] and body["next"]


def test_clients_see_workers_pseudonymized_and_admins_see_their_ids(
    alice: Any, ada: Any, job: Job, client_for: Any
) -> None:
    run = ConsensusRun.objects.filter(job=job).latest("id")
    workers = client_for(alice).get(_url(job, run.pk) + "workers/").json()["results"]
    assert len(workers) == 3 and all("worker_id" not in w for w in workers)
    worker_ids = set(job.judgments.values_list("worker_id", flat=True))
    assert {w["worker"] for w in workers} == {
        worker_pseudonym(job_id=job.pk, worker_id=i) for i in worker_ids
    }
    assert all(len(w["confusion"]) == 3 for w in workers)
    admin_view = client_for(ada).get(_url(job, run.pk) + "workers/").json()["results"]
    assert {w["worker_id"] for w in admin_view} == worker_ids


def test_another_organization_gets_404_and_workers_403(
    carol: Any, wendy: Any, job: Job, client_for: Any
) -> None:
    run = ConsensusRun.objects.filter(job=job).latest("id")
    for url in (_url(job), _url(job, run.pk), _url(job, run.pk) + "workers/"):
        assert client_for(carol).get(url).status_code == 404
        assert client_for(wendy).get(url).status_code == 403
    assert client_for(carol).post(_url(job), {}, format="json").status_code == 404
    assert client_for(wendy).post(_url(job), {}, format="json").status_code == 403
    assert ConsensusRun.objects.filter(job=job).count() == 1


def test_a_run_of_another_job_is_not_found_under_this_one(
    alice: Any, acme: Any, job: Job, client_for: Any
) -> None:
    other = judged_job(items=1, answers=("cat",), organization=acme)
    run = ConsensusRun.objects.filter(job=other).latest("id")
    assert client_for(alice).get(_url(job, run.pk)).status_code == 404


def test_a_run_that_could_outlast_the_servers_limit_is_refused_with_the_estimate_and_nothing_runs(
    alice: Any, job: Job, client_for: Any, settings: Any
) -> None:
    settings.QUORUM_CONSENSUS_MAX_SECONDS = 1
    runs = ConsensusRun.objects.filter(job=job).count()

    # GLAD over 10,000 rounds: 12 judgments x 3 labels x 10,000 x 7.5 µs = 2.7 s at its worst.
    response = client_for(alice).post(_url(job), {"method": "glad", "options": {"max_rounds": 10_000}}, format="json")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["details"] == {"reason": "run_too_costly", "estimate_seconds": 3, "limit_seconds": 1}
    assert "glad on 12 judgments x 3 labels could take up to 3 s" in error["message"]
    assert 'default method "quorum"' in error["message"]
    assert ConsensusRun.objects.filter(job=job).count() == runs  # nothing claimed, nothing running
    assert client_for(alice).post(_url(job), {"method": "glad"}, format="json").status_code == 201


def test_mmsr_is_refused_past_its_worker_bound_whatever_the_time_allowed(
    alice: Any, job: Job, client_for: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr("marketplace.consensus.cost.MMSR_MAX_WORKERS", 2)  # the job has 3 workers

    response = client_for(alice).post(_url(job), {"method": "mmsr"}, format="json")

    assert response.status_code == 400
    assert "at most 2 workers" in response.json()["error"]["message"]
    assert "this one has 3 workers" in response.json()["error"]["message"]
