"""Clients create jobs, edit drafts and move jobs through their lifecycle over the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.jobs.models import Job
from tests.factories import QualificationFactory, fund, open_job_with_items

LABELS = [{"key": "cat", "shortcut": "c"}, {"key": "dog", "shortcut": "d"}]


def create(api: Any, **fields: Any) -> Any:
    body = {"title": "Animals", "labels": LABELS, **fields}
    return api.post("/api/v1/jobs/", body, format="json")


def test_a_client_creates_a_draft_job_with_defaults(alice, client_for) -> None:  # type: ignore[no-untyped-def]
    response = create(client_for(alice), instructions="Pick **one**")
    assert response.status_code == 201
    job = response.json()
    assert job["status"] == "draft" and job["overlap"] == 3 and job["tier"] == "standard"
    assert job["labels"][0] == {"key": "cat", "name": "cat", "shortcut": "c"}
    assert "<strong>one</strong>" in job["instructions_html"]
    assert job["counts"]["items"] == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"labels": [{"key": "only"}]}, "2 to 50"),
        ({"labels": [{"key": f"l{n}"} for n in range(51)]}, "2 to 50"),
        ({"labels": [{"key": "cat"}, {"key": "cat"}]}, "appears twice"),
        ({"labels": [{"key": "cat", "shortcut": "x"}, {"key": "dog", "shortcut": "X"}]}, "used twice"),
        ({"labels": [{"key": "yes"}, {"key": "unsure", "shortcut": "u"}]}, "shortcut 'u' is reserved: on the labeling page it undoes your last answer"),
        ({"labels": [{"key": "yes"}, {"key": "unsure", "shortcut": "U"}]}, "shortcut 'U' is reserved"),
        ({"labels": [{"key": "yes"}, {"key": "a", "shortcut": "?"}]}, "shortcut '?' is reserved: on the labeling page it opens the list of keys"),
        ({"labels": [{"key": "has space"}, {"key": "dog"}]}, "key"),
        # A misspelled or made-up field of a label is named, with the fields a label has.
        ({"labels": [{"key": "cat", "shortuct": "c"}, {"key": "dog"}]}, "shortuct; a label has key, name, shortcut"),
        ({"labels": ["cat", {"key": "dog", "color": "red"}]}, "labels[2]: unknown field(s) color"),
        ({"overlap": 0}, "overlap"),
        ({"gold_rate": "0.9"}, "gold_rate"),
        ({"reward_per_judgment": "0.00001"}, "decimal places"),
        ({"reward_per_judgment": "NaN"}, "reward_per_judgment"),
        ({"lease_seconds": "soon"}, "lease_seconds"),
        ({"owner": 3}, "Unknown job fields"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_job_fields_get_a_400_that_names_the_problem(alice, client_for, fields, message) -> None:  # type: ignore[no-untyped-def]
    response = create(client_for(alice), **fields)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert Job.objects.count() == 0


def test_workers_and_anonymous_users_cannot_create_jobs(wendy, client_for, api) -> None:  # type: ignore[no-untyped-def]
    assert create(client_for(wendy)).status_code == 403
    assert create(api).status_code == 401
    assert api.get("/api/v1/jobs/").json()["error"]["code"] == "not_authenticated"


def test_a_job_can_require_qualifications_but_not_another_organizations(alice, carol, client_for) -> None:  # type: ignore[no-untyped-def]
    public = QualificationFactory()
    private_to_globex = QualificationFactory(owner=carol.organization)
    ok = create(client_for(alice), requirements=[{"qualification": public.pk, "min_score": "0.7"}])
    assert ok.status_code == 201
    assert ok.json()["requirements"] == [{"qualification": public.pk, "min_score": "0.7000"}]
    refused = create(client_for(alice), requirements=[{"qualification": private_to_globex.pk}])
    assert refused.status_code == 400 and "Unknown qualification" in refused.json()["error"]["message"]


def test_a_draft_can_be_edited_but_an_open_job_cannot(alice, client_for) -> None:  # type: ignore[no-untyped-def]
    api = client_for(alice)
    job_id = create(api).json()["id"]
    edited = api.patch(f"/api/v1/jobs/{job_id}/", {"overlap": 5, "title": "Pets"}, format="json")
    assert edited.status_code == 200 and edited.json()["overlap"] == 5
    job = open_job_with_items(items=2, organization=alice.organization)
    refused = api.patch(f"/api/v1/jobs/{job.pk}/", {"overlap": 1}, format="json")
    assert refused.status_code == 409 and "draft" in refused.json()["error"]["message"]


def test_the_pay_per_judgment_is_money_sent_as_a_string_never_a_json_number_with_a_fraction(  # type: ignore[no-untyped-def]
    alice, client_for
) -> None:
    """0.1 has no exact binary value: like every money input, a JSON number with a fraction is
    a 400 on create and on edit, and the draft keeps its pay."""
    api = client_for(alice)
    refused = create(api, reward_per_judgment=0.05)
    assert refused.status_code == 400 and "not float" in refused.json()["error"]["message"]
    assert Job.objects.count() == 0
    job_id = create(api, reward_per_judgment="0.05").json()["id"]
    edit = api.patch(f"/api/v1/jobs/{job_id}/", {"reward_per_judgment": 0.07}, format="json")
    assert edit.status_code == 400 and "reward_per_judgment" in edit.json()["error"]["message"]
    assert str(Job.objects.get(pk=job_id).reward_per_judgment) == "0.0500"
    whole = api.patch(f"/api/v1/jobs/{job_id}/", {"reward_per_judgment": 1}, format="json")
    assert whole.status_code == 200 and whole.json()["reward_per_judgment"] == "1.0000"


def test_publishing_needs_items(alice, client_for) -> None:  # type: ignore[no-untyped-def]
    api = client_for(alice)
    job_id = create(api).json()["id"]
    response = api.post(f"/api/v1/jobs/{job_id}/publish/")
    assert response.status_code == 400 and "at least one item" in response.json()["error"]["message"]


def test_a_job_moves_only_along_legal_transitions(alice, client_for) -> None:  # type: ignore[no-untyped-def]
    api = client_for(alice)
    job = open_job_with_items(items=2, organization=alice.organization, publish=False)
    fund(alice.organization, "1.00")  # publishing escrows 2 items × the tier's price
    url = f"/api/v1/jobs/{job.pk}"
    assert api.post(f"{url}/resume/").status_code == 409  # a draft was never paused
    assert api.post(f"{url}/pause/").status_code == 409
    assert api.post(f"{url}/publish/").json()["status"] == "open"
    again = api.post(f"{url}/publish/")
    assert again.status_code == 409 and again.json()["error"]["message"] == "An open job cannot become open."
    assert api.post(f"{url}/pause/").json()["status"] == "paused"
    assert api.post(f"{url}/resume/").json()["status"] == "open"
    cancelled = api.post(f"{url}/cancel/").json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]
    for action in ("publish", "pause", "resume", "cancel"):
        response = api.post(f"{url}/{action}/")
        assert response.status_code == 409, action
        assert "cancelled" in response.json()["error"]["message"]
    assert api.post(f"{url}/explode/").status_code == 404


def test_instructions_render_inert(alice, client_for) -> None:  # type: ignore[no-untyped-def]
    hostile = '<script>alert(1)</script> <img src=x onerror="alert(2)"> [x](javascript:alert(3))'
    html = create(client_for(alice), instructions=hostile).json()["instructions_html"]
    assert "<script" not in html and "onerror" not in html and "javascript:" not in html


def test_job_counts_never_scan_the_item_table(alice, client_for) -> None:  # type: ignore[no-untyped-def]
    job = open_job_with_items(items=40, gold=4, organization=alice.organization)
    api = client_for(alice)
    with CaptureQueriesContext(connection) as queries:
        counts = api.get(f"/api/v1/jobs/{job.pk}/").json()["counts"]
    assert counts["items"] == 40 and counts["gold_items"] == 4 and counts["completed_items"] == 0
    assert len(queries) <= 8
    assert not [q["sql"] for q in queries if '"jobs_item"' in q["sql"]]
