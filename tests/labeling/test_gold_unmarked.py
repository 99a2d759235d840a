"""Nothing a worker receives names an item, so nothing orders a job's gold apart from the rest.

Gold is imported apart from the regular items (POST jobs/<id>/gold/, or the demo's seeding), so
the ids of a job's gold form a block of their own: here Acme's job has its regular items first and
its gold after them. A worker shown those ids saw at once which items were check items (an outside
audit: 84, 85, ..., 1556, 94, ...), answered those with care and the rest at random.

Wendy (tests/conftest.py) works such a job to the end over the worker API, then on the labeling
page. Every payload she receives is walked for numbers: each must be a lease, a judgment, the job,
or a count or time, never an item's id; and the one handle she gets per item, the lease id, only
rises in the order she was served, gold or not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job
from marketplace.labeling.models import Lease
from tests.factories import open_job_with_items
from tests.labeling.helpers import post_json, signed_in

pytestmark = pytest.mark.django_db

# Where a number may appear in what a worker receives (keys of the payloads; "id" only as the
# job's own or a judgment's, see _numbers_only_name_leases_judgments_and_jobs).
NUMBER_KEYS = {"lease", "judgment", "undone", "skipped", "extended", "job", "id", "seconds_left", "lease_seconds", "count"}


def gold_after_regular(*, items: int = 16, gold: int = 6) -> Job:
    """A job whose gold was imported after its regular items (ids above theirs), answered right
    with "cat" everywhere; every item reads alike, so only an id could have told them apart.
    Overlap 2: an item one answer leaves open, so the last answer can be undone."""
    job = open_job_with_items(
        items=items, gold=gold, gold_label="cat", gold_rate="0.5", overlap=2,
        quality_rules={"min_gold_answers": 1000, "gold_feedback": False},
    )
    for n, item in enumerate(Item.objects.filter(job=job).order_by("?")):
        Item.objects.filter(pk=item.pk).update(data={"text": f"a picture ({n})"})
    regular = Item.objects.filter(job=job, is_gold=False).values_list("pk", flat=True)
    assert min(Item.objects.filter(job=job, is_gold=True).values_list("pk", flat=True)) > max(regular)
    return job


def numbers(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], float]]:
    """(path of keys, number) for every number in a JSON document, outside the items' own data."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if not (key == "data" and path[-1:] == ("item",)):
                yield from numbers(inner, (*path, key))
    elif isinstance(value, list):
        for inner in value:
            yield from numbers(inner, path)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


def assert_names_no_item(document: Any) -> None:
    for path, _ in numbers(document):
        assert path[-1] in NUMBER_KEYS, f"a worker was sent a number at {'.'.join(path)}"
        if path[-1] == "id":  # the job's own id, or a judgment's in work/judgments/
            assert path[-2:-1] == ("job",) or path == ("results", "id"), f"an id at {'.'.join(path)}"
    assert {key for key in keys(document) if "item" in key} <= {"item"}, "an item_id of some kind"


def keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def served_gold(leases: list[dict[str, Any]]) -> list[bool]:
    """For the test's eyes only: which of the leases a worker took were gold."""
    handles = [lease["lease"] for lease in leases]
    gold = dict(Lease.objects.filter(pk__in=handles).values_list("pk", "item__is_gold"))
    return [gold[handle] for handle in handles]


def test_a_worker_who_works_a_job_over_the_api_is_never_told_which_item_she_holds(
    wendy: User, client_for: Any,
) -> None:
    job = gold_after_regular()
    api = client_for(wendy)
    received: list[Any] = []
    served: list[dict[str, Any]] = []
    lease = api.post("/api/v1/work/next/", {"job": job.pk}, format="json").json()
    received.append(lease)
    last_judgment = None
    while lease is not None:
        served.append(lease)
        received.append(api.get(f"/api/v1/work/leases/{lease['lease']}/").json())
        done = api.post(f"/api/v1/work/leases/{lease['lease']}/submit/", {"label": "cat", "next": True}, format="json")
        assert done.status_code == 201, done.content
        received.append(done.json())
        last_judgment, lease = done.json()["judgment"], done.json()["next"]
    assert received[-1]["next_error"]["code"] == "no_work"
    undone = api.post(f"/api/v1/work/judgments/{last_judgment}/undo/")
    assert undone.status_code == 200, undone.content
    again = api.post(f"/api/v1/work/leases/{undone.json()['lease']['lease']}/submit/", {"label": "cat"}, format="json")
    assert again.status_code == 201, again.content
    received += [undone.json(), again.json(), api.get("/api/v1/work/judgments/?page_size=100").json()]

    gold = served_gold(served)
    assert any(gold) and not all(gold), "both kinds must be served for the test to mean anything"
    assert all(set(lease["item"]) == {"data"} for lease in [*served, undone.json()["lease"]])
    for document in received:
        assert_names_no_item(document)
    handles = [lease["lease"] for lease in served]
    assert handles == sorted(handles), "the lease id says when an item was served, nothing more"


def test_the_labeling_page_never_tells_a_worker_which_item_she_holds(wendy: User) -> None:
    job = gold_after_regular()
    browser = signed_in(wendy)
    page = browser.get(reverse("work-label", args=[job.pk])).content.decode()
    assert not re.search(r"data-[\w-]*item", page) and "a picture" not in page  # items come by JSON
    next_url = reverse("work-label-next", args=[job.pk])
    received: list[Any] = []
    served: list[dict[str, Any]] = []
    on_screen = post_json(browser, next_url).json()
    ahead = post_json(browser, next_url, {"ahead_of": on_screen["next"]["lease"]}).json()
    received += [on_screen, ahead]
    on_screen, ahead = on_screen["next"], ahead["next"]
    skipped = False
    answer: dict[str, Any] = {}
    while on_screen is not None:
        served.append(on_screen)
        held = [on_screen["lease"]] + ([ahead["lease"]] if ahead else [])
        received.append(post_json(browser, reverse("work-label-heartbeat"), {"leases": held}).json())
        extra = {"ahead_of": ahead["lease"]} if ahead else {}
        if not skipped:  # one skip on the way: it brings the next item as an answer does
            reply = post_json(browser, reverse("work-label-skip", args=[on_screen["lease"]]), extra)
            skipped = True
        else:
            reply = post_json(browser, reverse("work-label-answer", args=[on_screen["lease"]]), {"label": "cat", **extra})
            answer = reply.json()
        assert reply.status_code == 200, reply.content
        received.append(reply.json())
        on_screen, ahead = ahead, reply.json()["next"]
    undone = post_json(browser, reverse("work-label-undo", args=[answer["submitted"]["judgment"]]))
    assert undone.status_code == 200, undone.content
    received.append(undone.json())

    gold = served_gold(served)
    assert any(gold) and not all(gold), "both kinds must be served for the test to mean anything"
    assert all(set(lease["item"]) == {"data"} for lease in [*served, undone.json()["next"]])
    for document in received:
        assert_names_no_item(document)
    handles = [lease["lease"] for lease in served]
    assert handles == sorted(handles), "the lease id says when an item was served, nothing more"
