"""A whole job through the HTTP API, as a client and five workers would drive it."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from marketplace.billing.models import JobBudget
from marketplace.jobs.models import Item
from marketplace.labeling.models import Judgment, Lease
from tests.factories import WorkerFactory, fund

GOLD_EXPLANATION = "EXPLAINS-GOLD-7f3a"


def _keys(value: Any) -> set[str]:
    """Every dict key anywhere in a JSON document."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_a_job_runs_from_posting_to_results_over_http(alice, client_for) -> None:  # type: ignore[no-untyped-def]
    api = client_for(alice)
    created = api.post(
        "/api/v1/jobs/",
        {
            "title": "Animals",
            "instructions": "Pick the animal.",
            "labels": [{"key": "cat", "shortcut": "c"}, {"key": "dog"}, {"key": "bird"}],
            "overlap": 3,
            "gold_rate": "0.2",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]

    items_csv = "external_id,text\n" + "".join(f"item-{n},Picture number {n}\n" for n in range(50))
    imported = api.post(f"/api/v1/jobs/{job_id}/items/", items_csv, content_type="text/csv")
    assert imported.status_code in (200, 201), imported.content
    gold_csv = "external_id,text,label,explanation\n" + "".join(
        f"gold-{n},Gold picture {n},{['cat', 'dog', 'bird'][n % 3]},{GOLD_EXPLANATION}\n" for n in range(5)
    )
    imported = api.post(f"/api/v1/jobs/{job_id}/gold/", gold_csv, content_type="text/csv")
    assert imported.status_code in (200, 201), imported.content
    assert api.post(f"/api/v1/jobs/{job_id}/publish/").status_code == 402  # no funds yet
    fund(alice.organization, "10.00")  # an admin records Acme's payment
    published = api.post(f"/api/v1/jobs/{job_id}/publish/")
    assert published.status_code == 200 and published.json()["status"] == "open"

    workers = [client_for(WorkerFactory(username=f"crowd{n}")) for n in range(5)]
    active = list(range(5))
    worker_payloads: list[bytes] = []
    rounds = 0
    while active:
        rounds += 1
        assert rounds < 1000, "the crowd never ran out of work"
        for index in list(active):
            nxt = workers[index].post("/api/v1/work/next/", {"job": job_id}, format="json")
            worker_payloads.append(nxt.content)
            if nxt.status_code == 404:
                assert nxt.json()["error"]["code"] == "no_work"
                active.remove(index)
                continue
            assert nxt.status_code in (200, 201), nxt.content
            lease = nxt.json()
            item_id = Lease.objects.get(pk=lease["lease"]).item_id  # the test's choice; workers never see it
            label = lease["job"]["labels"][(item_id + index) % 3]["key"]
            done = workers[index].post(
                f"/api/v1/work/leases/{lease['lease']}/submit/", {"label": label}, format="json"
            )
            worker_payloads.append(done.content)
            assert done.status_code in (200, 201), done.content

    plain = Item.objects.filter(job_id=job_id, is_gold=False)
    per_item = Counter(
        Judgment.objects.filter(job_id=job_id, is_gold=False).values_list("item_id", flat=True)
    )
    assert plain.count() == 50
    assert all(per_item[item.pk] == 3 for item in plain), per_item
    pairs = list(Judgment.objects.filter(job_id=job_id).values_list("item_id", "worker_id"))
    assert len(pairs) == len(set(pairs)), "a worker judged an item twice"
    assert Judgment.objects.filter(job_id=job_id, is_gold=True).exists(), "gold was never mixed in"

    for payload in worker_payloads:
        document = json.loads(payload)
        # Gold feedback (on by default) tells a worker who missed a check item the right answer and
        # why, after their answer is in: the only place an explanation may reach a worker.
        feedback = document.pop("feedback", None) if isinstance(document, dict) else None
        assert feedback is None or set(feedback) == {"correct_label", "explanation", "your_label"}
        assert GOLD_EXPLANATION not in json.dumps(document)
        assert not _keys(document) & {"gold", "is_gold", "gold_label", "explanation", "is_correct", "external_id"}

    job = api.get(f"/api/v1/jobs/{job_id}/").json()
    assert job["status"] == "completed"
    assert job["counts"]["completed_items"] == 50 and job["counts"]["judgments"] == 150
    budget = JobBudget.objects.get(job_id=job_id)  # settled at completion: every item charged once
    assert budget.settled_at is not None and budget.charged == budget.budget
    results = api.get(f"/api/v1/jobs/{job_id}/results/?format=jsonl")
    assert results.status_code == 200
    lines = [json.loads(line) for line in b"".join(results.streaming_content).splitlines() if line]
    assert len(lines) == 50 and all(row["judgment_count"] == 3 for row in lines)


pytestmark = pytest.mark.django_db
