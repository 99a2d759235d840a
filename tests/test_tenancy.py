"""Tenancy across the API: Carol (Globex) must see nothing of Acme's; workers see only their own.

Alice owns an Acme job. Carol is a client at Globex. Wendy holds a lease; Walter must not reach it.
"""

from __future__ import annotations

import json

import pytest

from marketplace.jobs.models import Item
from tests.factories import open_job_with_items

GOLD_SECRET = "zebra_gold_only"


@pytest.fixture
def acme_job(alice):  # type: ignore[no-untyped-def]
    labels = [{"key": "cat", "name": "Cat"}, {"key": "dog", "name": "Dog"}, {"key": GOLD_SECRET, "name": "Zebra"}]
    return open_job_with_items(
        items=5, gold=3, gold_label=GOLD_SECRET, organization=alice.organization, labels=labels,
        gold_rate="0.5",
    )


def _acme_urls(job) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    item = Item.objects.filter(job=job, is_gold=False).first()
    gold = Item.objects.filter(job=job, is_gold=True).first()
    base = f"/api/v1/jobs/{job.pk}"
    return [
        ("get", f"{base}/"),
        ("patch", f"{base}/"),
        ("post", f"{base}/pause/"),
        ("post", f"{base}/cancel/"),
        ("get", f"{base}/items/"),
        ("post", f"{base}/items/"),
        ("get", f"{base}/items/{item.pk}/"),
        ("get", f"{base}/gold/"),
        ("post", f"{base}/gold/"),
        ("get", f"{base}/gold/{gold.pk}/"),
        ("get", f"{base}/results/?format=csv"),
        ("get", f"{base}/results/?format=jsonl"),
        ("get", f"{base}/judgments/export/"),
        ("get", f"{base}/browse/"),
        ("get", f"{base}/browse/{item.pk}/"),
        ("get", f"{base}/browse/{gold.pk}/"),
        ("get", f"{base}/browse/export/"),
        ("post", f"{base}/browse/more-judgments/"),
        ("post", f"{base}/browse/expert-review/"),
        ("post", f"{base}/predictions/"),
    ]


def test_another_organization_gets_404_on_every_url_of_a_job(acme_job, carol, client_for) -> None:  # type: ignore[no-untyped-def]
    api = client_for(carol)
    for method, url in _acme_urls(acme_job):
        response = getattr(api, method)(url, {}, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json()["error"]["code"] == "not_found"
    acme_job.refresh_from_db()
    assert acme_job.status == "open" and acme_job.item_count == 5


def test_a_colleague_in_the_same_organization_sees_the_job(acme_job, bob, client_for) -> None:  # type: ignore[no-untyped-def]
    assert client_for(bob).get(f"/api/v1/jobs/{acme_job.pk}/").status_code == 200


def test_the_job_list_shows_only_the_requesters_organization(acme_job, carol, alice, client_for) -> None:  # type: ignore[no-untyped-def]
    assert client_for(carol).get("/api/v1/jobs/").json()["results"] == []
    assert [j["id"] for j in client_for(alice).get("/api/v1/jobs/").json()["results"]] == [acme_job.pk]


def test_workers_cannot_use_client_endpoints(acme_job, wendy, client_for) -> None:  # type: ignore[no-untyped-def]
    api = client_for(wendy)
    for method, url in _acme_urls(acme_job):
        response = getattr(api, method)(url, {}, format="json")
        assert response.status_code in (403, 404), (method, url)
        assert GOLD_SECRET.encode() not in response.content or method == "never"


def test_a_worker_gets_404_on_another_workers_lease(acme_job, wendy, walter, client_for) -> None:  # type: ignore[no-untyped-def]
    lease = client_for(wendy).post("/api/v1/work/next/", {"job": acme_job.pk}, format="json").json()
    thief = client_for(walter)
    base = f"/api/v1/work/leases/{lease['lease']}"
    assert thief.get(f"{base}/").status_code == 404
    assert thief.post(f"{base}/submit/", {"label": "cat"}, format="json").status_code == 404
    assert thief.post(f"{base}/release/").status_code == 404
    assert client_for(wendy).post(f"{base}/submit/", {"label": "cat"}, format="json").status_code in (200, 201)


def test_gold_labels_never_reach_a_worker(acme_job, wendy, client_for) -> None:  # type: ignore[no-untyped-def]
    """The gold label key exists in the label set, so look for it outside the label set."""
    api = client_for(wendy)
    seen_items = 0
    while True:
        nxt = api.post("/api/v1/work/next/", {"job": acme_job.pk}, format="json")
        if nxt.status_code == 404:
            break
        body = nxt.json()
        seen_items += 1
        without_labels = {k: v for k, v in body.items() if k != "job"}
        assert GOLD_SECRET not in json.dumps(without_labels)
        done = api.post(f"/api/v1/work/leases/{body['lease']}/submit/", {"label": "cat"}, format="json")
        # Only after answering, and only a missed gold item's feedback (on by default) names it.
        answer = done.json()
        feedback = answer.pop("feedback")
        assert GOLD_SECRET not in json.dumps(answer)
        assert feedback is None or feedback["correct_label"] == GOLD_SECRET
    assert seen_items >= 5
    for url in ("/api/v1/work/judgments/", "/api/v1/work/jobs/", "/api/v1/me/"):
        response = api.get(url)
        assert response.status_code == 200, url
        labels_free = response.content.decode().replace(f'"key":"{GOLD_SECRET}"', "")
        assert f'"{GOLD_SECRET}"' not in labels_free, url
