"""Worker quality API: admins list, inspect, block and unblock; Alice sees her job's crowd under
pseudonyms; Carol (Globex) sees nothing of Acme's; Wendy sees only her own figures."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.accounts.models import Organization, User
from marketplace.jobs.exporting import worker_pseudonym
from marketplace.jobs.models import Job
from marketplace.labeling.models import JobBlock
from marketplace.quality.runs import consensus_run
from marketplace.quality.selectors import job_worker_quality
from tests.factories import WorkerFactory
from tests.quality.worker_helpers import answer_gold, gold_job

pytestmark = pytest.mark.django_db

RULES = {"min_gold_answers": 4, "gold_accuracy_floor": "0.5"}


@pytest.fixture
def job(acme: Organization, wendy: User, walter: User) -> Job:
    """Acme's job: Walter answers gold well, Wendy misses every gold item and gets blocked."""
    job = gold_job(organization=acme, quality_rules=RULES)
    answer_gold(walter, job, right=6, wrong=0, seconds="7")
    answer_gold(wendy, job, right=0, wrong=4, seconds="3")
    return job


def test_admins_list_workers_sorted_by_gold_accuracy_and_filtered(
    client_for: Any, ada: User, job: Job, wendy: User, walter: User
) -> None:
    api = client_for(ada)
    body = api.get("/api/v1/quality/workers/?ordering=gold").json()
    assert [row["username"] for row in body["results"]] == ["wendy", "walter"]
    assert body["results"][0]["gold"] == {"seen": 4, "correct": 0, "smoothed": "0.1667", "interval_90": ["0.0102", "0.4507"]}
    assert body["results"][0]["blocked_jobs"] == 1
    assert [r["username"] for r in api.get("/api/v1/quality/workers/?ordering=-gold").json()["results"]] == [
        "walter", "wendy"
    ]
    blocked = api.get("/api/v1/quality/workers/?blocked=true").json()["results"]
    assert [r["username"] for r in blocked] == ["wendy"]
    in_job = api.get(f"/api/v1/quality/workers/?job={job.pk}&blocked=false").json()["results"]
    assert [r["username"] for r in in_job] == ["walter"] and in_job[0]["in_job"]["median_seconds"] == 7.0
    assert api.get("/api/v1/quality/workers/?ordering=email").status_code == 400


def test_an_admin_sees_one_workers_jobs_and_the_evidence_of_events(client_for: Any, ada: User, job: Job, wendy: User) -> None:
    body = client_for(ada).get(f"/api/v1/quality/workers/{wendy.pk}/").json()
    assert body["username"] == "wendy" and body["overall"]["blocked"] is True
    assert [j["job"] for j in body["jobs"]] == [job.pk] and body["jobs"][0]["gold"]["seen"] == 4
    blocked = next(e for e in body["events"] if e["kind"] == "blocked")
    assert blocked["automatic"] and len(blocked["evidence"]["answers"]) == 4
    assert client_for(ada).get("/api/v1/quality/workers/999999/").status_code == 404


def test_an_admin_blocks_and_unblocks_with_a_reason(client_for: Any, ada: User, job: Job, walter: User) -> None:
    api = client_for(ada)
    url = f"/api/v1/jobs/{job.pk}/workers/{walter.pk}/"
    assert api.post(url + "block/", {}, format="json").status_code == 400
    response = api.post(url + "block/", {"reason": "Shared account"}, format="json")
    assert response.status_code == 200 and response.json()["kind"] == "blocked"
    assert response.json()["actor"] == "ada" and not response.json()["automatic"]
    assert JobBlock.objects.filter(job=job, worker=walter).exists()
    assert api.post(url + "block/", {"reason": "again"}, format="json").status_code == 409
    response = api.post(url + "unblock/", {"reason": "Cleared"}, format="json")
    assert response.status_code == 200 and response.json()["evidence"]["dropped_stay_dropped"] is True
    assert not JobBlock.objects.filter(job=job, worker=walter).exists()


def test_only_admins_block_or_list(client_for: Any, alice: User, wendy: User, job: Job, walter: User) -> None:
    for user in (alice, wendy):
        api = client_for(user)
        assert api.get("/api/v1/quality/workers/").status_code == 403
        url = f"/api/v1/jobs/{job.pk}/workers/{walter.pk}/block/"
        assert api.post(url, {"reason": "x"}, format="json").status_code == 403


def test_a_client_sees_her_jobs_crowd_under_pseudonyms_only(
    client_for: Any, alice: User, carol: User, job: Job, wendy: User, walter: User
) -> None:
    consensus_run(job=job)
    response = client_for(alice).get(f"/api/v1/jobs/{job.pk}/workers/")
    assert response.status_code == 200
    rows = response.json()["results"]
    expected = {worker_pseudonym(job_id=job.pk, worker_id=w.pk) for w in (wendy, walter)}
    assert {row["worker"] for row in rows} == expected
    assert "wendy" not in response.content.decode() and "@example.com" not in response.content.decode()
    walter_row = next(r for r in rows if r["worker"] == worker_pseudonym(job_id=job.pk, worker_id=walter.pk))
    assert walter_row["ds_accuracy"] is not None and len(walter_row["confusion"]) == 3
    assert walter_row["confusion_labels"] == ["cat", "dog", "bird"] and walter_row["agreement"] is not None
    assert client_for(carol).get(f"/api/v1/jobs/{job.pk}/workers/").status_code == 404


def test_a_worker_sees_their_own_figures_and_the_drop_policy(client_for: Any, job: Job, wendy: User) -> None:
    body = client_for(wendy).get("/api/v1/me/quality/").json()
    assert body["overall"]["gold"]["seen"] == 4 and body["jobs"][0]["blocked"] is True
    assert "not paid" in body["policy"]
    assert {e["kind"] for e in body["events"]} >= {"blocked"}
    assert "evidence" not in body["events"][0]  # it would list gold items with their answers
    assert client_for(wendy).get(f"/api/v1/jobs/{job.pk}/workers/").status_code == 403


def test_a_workers_accuracies_read_as_a_quotes_do_decimal_strings_with_four_places(
    client_for: Any, alice: User, job: Job, walter: User
) -> None:
    """A client compares a quote's expected_accuracy with the crowd's figures: one type for both."""
    consensus_run(job=job)
    quote = client_for(alice).post("/api/v1/quotes/", {"items": 100}, format="json").json()["tiers"][0]
    row = next(r for r in client_for(alice).get(f"/api/v1/jobs/{job.pk}/workers/").json()["results"]
               if r["worker"] == worker_pseudonym(job_id=job.pk, worker_id=walter.pk))

    four_places = r"^[01]\.\d{4}$"
    accuracies = [quote["expected_accuracy"], quote["promised_accuracy"], row["ds_accuracy"],
                  row["gold"]["smoothed"], *row["gold"]["interval_90"]]
    assert all(isinstance(value, str) for value in accuracies), accuracies
    assert all(re.fullmatch(four_places, value) for value in accuracies), accuracies
    assert row["gold"]["smoothed"] == "0.8750"  # (6 + 1) / (6 + 2)


def test_a_job_with_many_workers_is_read_in_a_fixed_number_of_queries(job: Job) -> None:
    consensus_run(job=job)
    with CaptureQueriesContext(connection) as few:
        job_worker_quality(job_id=job.pk)
    for n in range(6):
        answer_gold(WorkerFactory(username=f"extra{n}"), job, right=1, wrong=0)
    consensus_run(job=job)
    with CaptureQueriesContext(connection) as many:
        rows = job_worker_quality(job_id=job.pk)
    assert len(rows) == 8 and len(many) == len(few)
