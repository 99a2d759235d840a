"""A consensus run of a multi-label job stores each item's probability for each label.

Three workers (made here) tick labels on a multi-label job; one of them ticks everything.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from marketplace.accounts.models import User

from marketplace.flows import work_submit
from marketplace.labeling.services import lease_claim
from marketplace.quality.models import ConsensusRun, ItemResult, WorkerResult
from marketplace.quality.results import run_distribution
from marketplace.quality.runs import consensus_run
from marketplace.quality.runs_multi import label_set_of
from tests.factories import WorkerFactory, open_job_with_items

pytestmark = pytest.mark.django_db

SAYS = {"careful": {"item 0": ["cat"], "item 1": ["cat", "dog"], "item 2": []},
        "also careful": {"item 0": ["cat"], "item 1": ["dog", "cat"], "item 2": []},
        "eager": {"item 0": ["cat", "dog", "bird"], "item 1": ["cat", "dog", "bird"], "item 2": ["bird"]}}


def test_each_item_gets_each_labels_probability_and_its_set() -> None:
    job = open_job_with_items(items=3, overlap=3, multi_label=True)
    for name, answers in SAYS.items():
        worker = WorkerFactory(username=name.replace(" ", "_"))
        for _ in range(3):
            lease = lease_claim(worker=worker, job=job)
            work_submit(worker=worker, lease_id=lease.pk, label=None, labels=answers[lease.item.data["text"]])
    run = consensus_run(job=job)
    assert run.status == ConsensusRun.Status.SUCCEEDED, run.error
    assert run.items == 3 and run.judgments == 9 and run.parameters["multi_label"] is True
    results = {r.item.data["text"]: r for r in ItemResult.objects.filter(run=run).select_related("item")}
    assert {text: label_set_of(r.probabilities) for text, r in results.items()} == {
        "item 0": ["cat"], "item 1": ["cat", "dog"], "item 2": [],
    }
    assert set(results["item 1"].probabilities) == {"cat", "dog", "bird"}
    assert results["item 0"].label == "" and 0 < results["item 0"].confidence <= 1
    assert results["item 2"].agreement == pytest.approx((1 + 1 + 2 / 3) / 3, abs=1e-6)
    accuracy = dict(WorkerResult.objects.filter(run=run).values_list("worker__username", "accuracy"))
    assert accuracy["eager"] < accuracy["careful"]
    assert set(run.parameters["per_label"]) == {"cat", "dog", "bird"}
    shares = run_distribution(run=run)  # per label: the items whose set holds it
    assert shares == {"cat": 2, "dog": 1}



def test_the_client_downloads_each_items_label_set_and_probabilities(alice: User, client_for: Any) -> None:
    job = open_job_with_items(items=3, overlap=3, multi_label=True, organization=alice.organization)
    for name, answers in SAYS.items():
        worker = WorkerFactory(username=name.replace(" ", "_"))
        for _ in range(3):
            lease = lease_claim(worker=worker, job=job)
            work_submit(worker=worker, lease_id=lease.pk, label=None, labels=answers[lease.item.data["text"]])
    consensus_run(job=job)
    api = client_for(alice)
    rows = json.loads(b"".join(api.get(f"/api/v1/jobs/{job.pk}/results/?format=json").streaming_content))
    by_text = {row["data"]["text"]: row for row in rows}
    assert by_text["item 1"]["consensus_labels"] == ["cat", "dog"] and "consensus_label" not in by_text["item 1"]
    assert set(by_text["item 1"]["label_probabilities"]) == {"cat", "dog", "bird"}
    assert by_text["item 2"]["consensus_labels"] == []
    lines = b"".join(api.get(f"/api/v1/jobs/{job.pk}/results/?format=jsonl").streaming_content).splitlines()
    assert sorted(json.loads(line)["consensus_labels"] for line in lines) == [[], ["cat"], ["cat", "dog"]]
    table = list(csv.DictReader(io.StringIO(
        b"".join(api.get(f"/api/v1/jobs/{job.pk}/results/?format=csv").streaming_content).decode()
    )))
    assert sorted(json.loads(row["consensus_labels"]) for row in table) == [[], ["cat"], ["cat", "dog"]]
    assert all(set(json.loads(row["label_probabilities"])) == {"cat", "dog", "bird"} for row in table)
    judged = json.loads(b"".join(api.get(f"/api/v1/jobs/{job.pk}/judgments/export/?format=json").streaming_content))
    assert len(judged) == 9 and ["cat", "dog", "bird"] in [j["labels"] for j in judged]
    refused = api.get(f"/api/v1/jobs/{job.pk}/results/?format=label_studio")
    assert refused.status_code == 400
