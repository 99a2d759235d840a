"""Through the API, as on the portal, an admin reads a client's job read-only and every look is on
the client's record ("Quorum staff access" on the job page).

The cast (tests/conftest.py): Alice is Acme's client, Ada an admin of no client organization,
Wendy a worker.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job, JobStaffView, JobStatus
from tests.factories import open_job_with_items
from tests.portal import browser

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_job(alice: User) -> Job:
    return open_job_with_items(items=3, gold=1, organization=alice.organization, title="Acme cats")


def _url(job: Job, tail: str = "") -> str:
    return f"/api/v1/jobs/{job.pk}/{tail}"


def test_each_api_look_at_a_clients_job_is_on_the_clients_record(
    ada: User, alice: User, acme_job: Job, client_for: Any,
) -> None:
    item = Item.objects.filter(job=acme_job, is_gold=False).first()
    assert item is not None
    api = client_for(ada)
    tails = ["", "gold/", "results/", "judgments/export/", f"browse/{item.pk}/"]
    for tail in tails:
        assert api.get(_url(acme_job, tail)).status_code == 200, tail
    looks = JobStaffView.objects.filter(job=acme_job).order_by("pk")
    assert [(look.viewer, look.what) for look in looks] == [(ada, _url(acme_job, tail)) for tail in tails]
    body = browser(alice).get(reverse("job-page", args=[acme_job.pk])).content.decode()
    assert "Quorum staff access" in body and "5 looks" in body and _url(acme_job, "gold/") in body


def test_the_clients_own_api_calls_are_not_on_the_record(alice: User, acme_job: Job, client_for: Any) -> None:
    api = client_for(alice)
    assert api.get(_url(acme_job, "gold/")).status_code == 200
    assert api.post(_url(acme_job, "pause/")).status_code == 200
    assert not JobStaffView.objects.exists()


def test_an_admin_cannot_pause_a_clients_job_through_the_api(ada: User, acme_job: Job, client_for: Any) -> None:
    response = client_for(ada).post(_url(acme_job, "pause/"))
    assert response.status_code == 403
    assert "read-only" in response.json()["error"]["message"]
    acme_job.refresh_from_db()
    assert acme_job.status == JobStatus.OPEN


@pytest.mark.parametrize(("method", "tail", "body"), [
    ("post", "cancel/", None),
    ("patch", "instructions/", {"instructions": "Label dogs instead."}),
    ("post", "escrow/", {"amount": "5.00"}),
    ("post", "items/", [{"data": {"text": "more"}}]),
    ("post", "gold/", [{"data": {"text": "more"}, "label": "cat"}]),
    ("post", "browse/more-judgments/", {"items": [], "more": 1}),
    ("post", "consensus/", {}),
    ("delete", "", None),
])
def test_no_write_of_an_admin_reaches_a_clients_job(
    ada: User, acme_job: Job, client_for: Any, method: str, tail: str, body: Any,
) -> None:
    before = (acme_job.status, acme_job.instructions, acme_job.item_count)
    response = getattr(client_for(ada), method)(_url(acme_job, tail), body, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (403, "permission_denied"), tail
    acme_job.refresh_from_db()
    assert (acme_job.status, acme_job.instructions, acme_job.item_count) == before
    assert not acme_job.consensus_runs.exists()


def test_a_missing_job_is_a_404_and_no_look(ada: User, client_for: Any) -> None:
    assert client_for(ada).get("/api/v1/jobs/999999/gold/").status_code == 404
    assert client_for(ada).post("/api/v1/jobs/999999/pause/").status_code == 404


def _job_routes(patterns: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            found += _job_routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and "job_id" in str(entry.pattern):
            found.append((prefix + str(entry.pattern), entry.callback))
    return found


def test_every_api_route_of_a_job_keeps_staff_looks_read_only() -> None:
    """A new job route without the rule would let an admin act for the client unrecorded. The one
    exception is staff's own action: blocking a worker in a job (admins only, the staff portal's)."""
    routes = [(route, view) for route, view in _job_routes(get_resolver().url_patterns) if route.startswith("api/")]
    assert len(routes) > 20
    for route, view in routes:
        names = {permission.__name__ for permission in view.view_class.permission_classes}
        assert "StaffLookReadOnly" in names or view.view_class.__name__ == "WorkerBlockAction", route
