"""GET /api/v1/jobs/{id}/results/: the latest succeeded run's labels, experts' labels marked."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.utils import timezone

from marketplace.jobs.models import Item, Job
from marketplace.quality.models import ConsensusRun, ExpertReview
from marketplace.quality.runs import consensus_run
from tests.factories import open_job_with_items
from tests.quality.run_helpers import judged_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(acme: Any, settings: Any) -> Job:
    settings.QUORUM_CONSENSUS_EVERY_JUDGMENTS = 0
    return judged_job(items=3, answers=("dog", "dog", "cat"), organization=acme)


def _rows(api: Any, job: Job) -> list[dict[str, str]]:
    response = api.get(f"/api/v1/jobs/{job.pk}/results/", {"format": "csv"})
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_results_carry_the_latest_runs_label_and_confidence(
    alice: Any, job: Job, client_for: Any
) -> None:
    rows = _rows(client_for(alice), job)
    assert len(rows) == 3 and {r["consensus_label"] for r in rows} == {"dog"}
    assert all(0.5 < float(r["confidence"]) <= 1 and r["source"] == "consensus" for r in rows)


def test_a_newer_failed_run_does_not_replace_the_latest_succeeded_one(
    alice: Any, job: Job, client_for: Any
) -> None:
    ConsensusRun.objects.create(
        job=job, method="quorum", status="failed", started_at=timezone.now(), error="x"
    )
    assert {r["consensus_label"] for r in _rows(client_for(alice), job)} == {"dog"}


def test_an_item_settled_by_an_expert_exports_the_experts_label_with_certainty(
    alice: Any, ada: Any, job: Job, client_for: Any
) -> None:
    item = Item.objects.filter(job=job).order_by("id").first()
    ExpertReview.objects.create(
        item=item,
        job=job,
        status=ExpertReview.Status.SETTLED,
        reason="uncertain at max overlap",
        confidence=0.6,
        label="bird",
        settled_by=ada,
        settled_at=timezone.now(),
    )
    rows = {int(r["item_id"]): r for r in _rows(client_for(alice), job)}
    assert (
        rows[item.pk]["consensus_label"],
        rows[item.pk]["confidence"],
        rows[item.pk]["source"],
    ) == ("bird", "1.0", "expert")
    assert all(r["source"] == "consensus" for pk, r in rows.items() if pk != item.pk)


def test_json_results_name_the_source_too(alice: Any, job: Job, client_for: Any) -> None:
    consensus_run(job=job, method="mv")
    response = client_for(alice).get(f"/api/v1/jobs/{job.pk}/results/", {"format": "json"})
    records = json.loads(b"".join(response.streaming_content))
    assert [r["source"] for r in records] == ["consensus"] * 3


def test_before_any_run_the_consensus_columns_are_empty(
    alice: Any, acme: Any, client_for: Any
) -> None:
    job = open_job_with_items(items=2, organization=acme)
    rows = _rows(client_for(alice), job)
    assert [(r["consensus_label"], r["source"]) for r in rows] == [("", ""), ("", "")]


def test_another_organization_cannot_read_the_results(
    carol: Any, job: Job, client_for: Any
) -> None:
    assert client_for(carol).get(f"/api/v1/jobs/{job.pk}/results/").status_code == 404
