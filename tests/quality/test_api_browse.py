"""The data browser over REST (api/browse.py).

Alice (Acme) owns the job; Carol (Globex) must see nothing of it; Wendy is a worker; Ada an admin.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job
from marketplace.quality.models import ExpertReview, ItemResult
from tests.factories import OrganizationFactory, fund
from tests.quality.browse_helpers import browsed_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice: User) -> Job:
    return browsed_job(organization=alice.organization)


def url(job: Job, tail: str = "") -> str:
    return f"/api/v1/jobs/{job.pk}/browse/{tail}"


def test_a_client_pages_through_her_jobs_items_with_the_cursor(job: Job, alice: User, client_for: Any) -> None:
    api = client_for(alice)
    seen: list[str] = []
    answer = api.get(url(job), {"page_size": 3, "sort": "-id"})
    while True:
        assert answer.status_code == 200, answer.content
        body = answer.json()
        seen += [row["external_id"] for row in body["results"]]
        if body["next_cursor"] is None:
            break
        answer = api.get(url(job), {"page_size": 3, "sort": "-id", "cursor": body["next_cursor"]})
    assert seen == ["g0", "i7", "i6", "i5", "i4", "i3", "i2", "i1", "i0"]
    assert body["run"] == job.consensus_runs.get().pk


def test_a_row_carries_the_label_confidence_agreement_and_marks(job: Job, alice: User, client_for: Any) -> None:
    row = client_for(alice).get(url(job), {"external_id": "i2"}).json()["results"][0]
    result = ItemResult.objects.get(item__external_id="i2")
    assert row["label"] == result.label and row["confidence"] == result.confidence
    assert row["agreement"] == pytest.approx(2 / 3, abs=1e-6)
    assert row["gold"] is False and row["expert_review"] is None and row["judgment_count"] == 3


def test_another_organization_gets_404_for_the_job_and_its_items(job: Job, carol: User, client_for: Any) -> None:
    api = client_for(carol)
    item = job.items.first()
    assert api.get(url(job)).status_code == 404
    assert api.get(url(job, f"{item.pk}/")).status_code == 404
    assert api.get(url(job, "export/")).status_code == 404
    assert api.post(url(job, "more-judgments/"), {"more": 1, "items": [item.pk]}, format="json").status_code == 404
    assert api.post(url(job, "expert-review/"), {"items": [item.pk]}, format="json").status_code == 404
    assert not ExpertReview.objects.exists()


def test_a_worker_is_refused_and_an_admin_may_browse(job: Job, wendy: User, ada: User, client_for: Any) -> None:
    assert client_for(wendy).get(url(job)).status_code == 403
    assert client_for(ada).get(url(job)).status_code == 200


def test_an_item_of_another_job_is_404_under_this_one(job: Job, alice: User, client_for: Any) -> None:
    from tests.factories import open_job_with_items

    elsewhere = open_job_with_items(items=1, organization=OrganizationFactory())
    answer = client_for(alice).get(url(job, f"{elsewhere.items.get().pk}/"))
    assert answer.status_code == 404


def test_the_items_page_shows_judgments_without_worker_identities(job: Job, alice: User, client_for: Any) -> None:
    item = Item.objects.get(job=job, external_id="i4")
    body = client_for(alice).get(url(job, f"{item.pk}/")).json()
    assert sorted(j["label"] for j in body["judgments"]) == ["bird", "cat", "dog"]
    text = str(body)
    for worker in item.judgments.select_related("worker"):
        assert worker.worker.username not in text and f"'worker': {worker.worker_id}" not in text
    assert set(body["probabilities"]) == {"cat", "dog", "bird"}
    # A worker's accuracies read as everywhere in the API: 4-place decimal strings (or null).
    assert all(isinstance(j["worker_consensus_accuracy"], str) and len(j["worker_consensus_accuracy"]) == 6
               for j in body["judgments"])


@pytest.mark.parametrize("params", [
    {"confidence_min": "nan"}, {"confidence_max": "2"}, {"label": "horse"}, {"page_size": "0"},
    {"page_size": "100000"}, {"page_size": "1.5"}, {"cursor": "not-a-cursor"}, {"sort": "random"},
    {"gold": "perhaps"}, {"q": "y" * 500},
])
def test_bad_input_is_a_400_naming_the_parameter(job: Job, alice: User, client_for: Any, params: dict[str, str]) -> None:
    answer = client_for(alice).get(url(job), params)
    assert answer.status_code == 400
    assert answer.json()["error"]["details"]["parameter"] in params


def test_the_csv_holds_exactly_the_rows_the_filter_shows(job: Job, alice: User, client_for: Any) -> None:
    api = client_for(alice)
    params = {"agreement_below": "0.9", "sort": "confidence"}
    shown = [row["id"] for row in api.get(url(job), params).json()["results"]]
    answer = api.get(url(job, "export/"), params)
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert [int(row["item_id"]) for row in rows] == shown and len(shown) == 3
    assert {row["consensus_label"] for row in rows} <= {"cat", "dog", "bird"}


def _csv(answer: Any) -> tuple[bytes, list[dict[str, str]]]:
    raw = b"".join(answer.streaming_content)
    return raw, list(csv.DictReader(io.StringIO(raw.decode(), newline="")))


def test_the_csv_writes_confidence_as_the_results_export_does(job: Job, alice: User, client_for: Any) -> None:
    """One item, one confidence: the same text in both downloads (it was "1.000000" beside "1.0")."""
    api = client_for(alice)
    browsed_raw, browsed = _csv(api.get(url(job, "export/")))
    results_raw, results = _csv(api.get(f"/api/v1/jobs/{job.pk}/results/", {"format": "csv"}))
    for raw in (browsed_raw, results_raw):  # and lines end alike, in \r\n (RFC 4180)
        assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")

    confidence = {row["item_id"]: row["confidence"] for row in results}
    shared = [row for row in browsed if row["item_id"] in confidence and row["confidence"]]
    assert len(shared) == 6 and any(row["confidence"] == "1.0" for row in shared)  # i0..i5 judged
    assert all(row["confidence"] == confidence[row["item_id"]] for row in shared)
    assert all(row["agreement"] == repr(float(row["agreement"])) for row in shared)


def test_a_bad_filter_on_the_csv_is_a_400_before_any_byte(job: Job, alice: User, client_for: Any) -> None:
    assert client_for(alice).get(url(job, "export/"), {"confidence_min": "Infinity"}).status_code == 400


def test_sending_a_filter_to_expert_review_queues_its_regular_items_once(
    job: Job, alice: User, client_for: Any
) -> None:
    fund(alice.organization, "5.00")
    api = client_for(alice)
    body = {"filter": {"agreement_below": "0.9"}}
    quote = api.post(url(job, "expert-review/"), {**body, "quote": True}, format="json").json()
    assert quote["queued"] == 3 and Decimal(quote["hold"]) == 3 * Decimal(quote["price"])
    assert not ExpertReview.objects.exists()  # a quote queues nothing
    answer = api.post(url(job, "expert-review/"), body, format="json", HTTP_IDEMPOTENCY_KEY="x1")
    assert answer.status_code == 200 and answer.json()["queued"] == 3 and answer.json()["hold"] == quote["hold"]
    queued = set(ExpertReview.objects.filter(job=job, status="open").values_list("item__external_id", flat=True))
    assert queued == {"i2", "i3", "i4"}
    again = api.post(url(job, "expert-review/"), body, format="json", HTTP_IDEMPOTENCY_KEY="x2").json()
    assert again["queued"] == 0 and again["hold"] == "0.00"
    marked = api.get(url(job), {"expert": "open"}).json()["results"]
    assert sorted(row["external_id"] for row in marked) == ["i2", "i3", "i4"]


def test_a_misspelled_filter_key_quotes_and_queues_nothing(job: Job, alice: User, client_for: Any) -> None:
    fund(alice.organization, "5.00")
    api = client_for(alice)
    for quote in (True, False):
        answer = api.post(url(job, "expert-review/"), {"filter": {"lable": "dog"}, "quote": quote},
                          format="json", HTTP_IDEMPOTENCY_KEY="typo-1")
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["details"]["unknown"] == ["lable"] and "label" in error["message"]
    assert not ExpertReview.objects.exists()


def test_an_action_names_either_items_or_a_filter(job: Job, alice: User, client_for: Any) -> None:
    api = client_for(alice)
    for body in ({}, {"items": [1], "filter": {}}, {"items": ["x"]}, {"items": [1], "extra": 1},
                 {"filter": {"confidence_max": "NaN"}}):
        assert api.post(url(job, "expert-review/"), body, format="json").status_code == 400, body
    assert not ExpertReview.objects.exists()


def test_a_misspelled_filter_in_the_query_is_a_400_listing_the_filters(job: Job, alice: User, client_for: Any) -> None:
    # The portal's table asks this listing with the page's own query string (databrowser.js).
    api = client_for(alice)
    for tail in ("", "export/"):
        error = api.get(url(job, tail), {"lable": "dog"}).json()["error"]
        assert error["details"]["unknown"] == ["lable"] and "label" in error["details"]["allowed"]
    assert "cursor" in api.get(url(job), {"lable": "dog"}).json()["error"]["details"]["allowed"]
    assert api.get(url(job), {"label": "dog", "page_size": 2}).status_code == 200
