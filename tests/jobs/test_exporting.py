"""Results and raw-judgment exports: streamed batch by batch, complete, and pseudonymous.

Judgments are written straight through the labeling models here: the exporter only reads them.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from marketplace.accounts.models import User
from marketplace.errors import ApplicationError
from marketplace.jobs.exporting import judgments_export, results_export, worker_pseudonym
from marketplace.jobs.models import Item, Job
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.labeling.models import Judgment, JudgmentStatus
from tests.factories import JobFactory, open_job_with_items

pytestmark = pytest.mark.django_db


def _read(chunks: Any) -> bytes:
    return b"".join(chunks)


def _judge(item: Item, worker: User, label: str, status: str = JudgmentStatus.ACCEPTED) -> Judgment:
    return Judgment.objects.create(
        job=item.job, item=item, worker=worker, label=label, is_gold=item.is_gold, status=status
    )


@pytest.fixture
def job() -> Job:
    """Five plain items i0..i4 (one without an external id) and two gold items."""
    job = open_job_with_items(items=5, gold=2)
    Item.objects.filter(job=job, external_id="i4").update(external_id=None)
    return job


def test_results_as_jsonl_list_each_plain_item_once(job: Job) -> None:
    lines = _read(results_export(job=job, fmt="jsonl", batch_size=2)).decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["external_id"] for r in rows] == ["i0", "i1", "i2", "i3", None]
    assert rows[0]["data"] == {"text": "item 0"}
    assert all(r["consensus_label"] is None and r["confidence"] is None for r in rows)
    assert all(r["judgment_count"] == 0 for r in rows)


def test_results_as_json_are_one_valid_array_even_when_empty(job: Job) -> None:
    rows = json.loads(_read(results_export(job=job, fmt="json", batch_size=2)))
    assert len(rows) == 5 and rows[1]["external_id"] == "i1"
    empty = JobFactory()
    assert json.loads(_read(results_export(job=empty, fmt="json"))) == []


def test_results_as_csv_have_a_header_and_json_encoded_data(job: Job) -> None:
    text = _read(results_export(job=job, fmt="csv", batch_size=3)).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["item_id", "external_id", "data", "consensus_label", "confidence", "judgment_count"]
    assert len(rows) == 5 and json.loads(rows[2]["data"]) == {"text": "item 2"}
    assert rows[4]["external_id"] == "" and rows[0]["consensus_label"] == ""
    empty = JobFactory()
    assert _read(results_export(job=empty, fmt="csv")).decode().strip() == (
        "item_id,external_id,data,consensus_label,confidence,judgment_count"
    )


def test_results_take_consensus_from_the_lookup_one_batch_at_a_time(job: Job) -> None:
    asked: list[list[int]] = []

    def lookup(item_ids: list[int]) -> dict[int, tuple[str, float]]:
        asked.append(item_ids)
        return {item_id: ("cat", 0.75) for item_id in item_ids[:1]}  # only the first of each batch

    rows = json.loads(_read(results_export(job=job, fmt="json", consensus_lookup=lookup, batch_size=2)))
    plain_ids = list(Item.objects.filter(job=job, is_gold=False).order_by("id").values_list("id", flat=True))
    assert asked == [plain_ids[0:2], plain_ids[2:4], plain_ids[4:5]]
    assert [(r["consensus_label"], r["confidence"]) for r in rows] == [
        ("cat", 0.75), (None, None), ("cat", 0.75), (None, None), ("cat", 0.75)
    ]


def test_results_never_run_a_query_before_the_first_chunk_is_read(
    job: Job, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        chunks = results_export(job=job, fmt="csv")
    assert b"i0" in _read(chunks)


def test_raw_judgments_are_task_worker_label_with_pseudonymous_workers(
    job: Job, wendy: User, walter: User
) -> None:
    plain = list(Item.objects.filter(job=job, is_gold=False).order_by("id"))
    gold = Item.objects.filter(job=job, is_gold=True).first()
    _judge(plain[0], wendy, "cat")
    _judge(plain[0], walter, "dog")
    _judge(plain[4], wendy, "bird")  # no external id: the task is the item id
    _judge(plain[1], walter, "cat", status=JudgmentStatus.DROPPED)
    _judge(gold, wendy, "cat")

    text = _read(judgments_export(job=job, batch_size=2)).decode()
    rows = list(csv.reader(io.StringIO(text)))
    w = worker_pseudonym(job_id=job.pk, worker_id=wendy.pk)
    v = worker_pseudonym(job_id=job.pk, worker_id=walter.pk)
    assert rows == [
        ["task", "worker", "label"], ["i0", w, "cat"], ["i0", v, "dog"], [str(plain[4].pk), w, "bird"]
    ]
    assert "wendy" not in text and "walter" not in text
    assert w != v and w.startswith("w") and len(w) == 13


def test_a_pseudonym_is_stable_in_a_job_and_differs_between_jobs_and_keys(
    wendy: User, settings: Any
) -> None:
    one, other = JobFactory(), JobFactory()
    name = worker_pseudonym(job_id=one.pk, worker_id=wendy.pk)
    assert name == worker_pseudonym(job_id=one.pk, worker_id=wendy.pk)
    assert name != worker_pseudonym(job_id=other.pk, worker_id=wendy.pk)
    settings.SECRET_KEY = "another-secret-key-of-some-length"
    assert name != worker_pseudonym(job_id=one.pk, worker_id=wendy.pk)  # not guessable without the key


def test_raw_judgments_also_stream_as_jsonl(job: Job, wendy: User) -> None:
    item = Item.objects.get(job=job, external_id="i2")
    _judge(item, wendy, "dog")
    lines = _read(judgments_export(job=job, fmt="jsonl")).decode().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"task": "i2", "worker": worker_pseudonym(job_id=job.pk, worker_id=wendy.pk), "label": "dog"}
    ]


@pytest.mark.django_db(transaction=True)
async def test_under_asgi_an_export_streams_asynchronously_and_says_the_same(alice: User) -> None:
    """Django's ASGI handler drains a synchronous iterator into a list before sending anything;
    the export views hand it an async stream instead, with the same bytes as under WSGI."""
    from asgiref.sync import sync_to_async
    from django.db import connections
    from django.test import AsyncClient, Client

    from marketplace.accounts.services import token_create

    def setup() -> tuple[int, str]:
        job = open_job_with_items(items=7, organization=alice.organization)
        return job.pk, token_create(user=alice, name="asgi")[1]

    job_id, secret = await sync_to_async(setup)()
    auth = {"Authorization": f"Bearer {secret}"}
    url = f"/api/v1/jobs/{job_id}/results/?format=csv"
    streamed = await AsyncClient().get(url, headers=auth)
    assert streamed.status_code == 200 and streamed.is_async
    body = b"".join([chunk async for chunk in streamed])
    plain = await sync_to_async(lambda: b"".join(Client().get(url, headers=auth).streaming_content))()
    assert body == plain
    assert body.count(b"\n") == 8  # header + 7 items
    await sync_to_async(connections.close_all)()  # the helper thread's connection, before teardown


def _flat(job: Job, **kwargs: Any) -> list[dict[str, str]]:
    text = _read(results_export(job=job, fmt="csv", layout="flat", **kwargs)).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_a_flat_csv_has_one_column_per_data_field_the_union_of_every_items_keys() -> None:
    job = JobFactory()
    item_bulk_create(job=job, gold=False, rows=[
        ItemRow(data={"text": "a cat", "lang": "en"}, external_id="x"),
        ItemRow(data={"text": "un chien", "url": "https://e.example/1.png"}, external_id="y"),
    ])
    rows = _flat(job)
    assert list(rows[0]) == [
        "item_id", "external_id", "data.lang", "data.text", "data.url",
        "consensus_label", "confidence", "judgment_count",
    ]
    assert [(r["data.text"], r["data.lang"], r["data.url"]) for r in rows] == [
        ("a cat", "en", ""), ("un chien", "", "https://e.example/1.png"),
    ]


def test_a_flat_csv_writes_formulas_as_text_and_nested_values_as_json() -> None:
    job = JobFactory()
    data = {"=cmd": "=HYPERLINK(\"http://evil\")", "n": -3, "ok": True, "tags": ["a", "b"],
            "quote": 'say "hi", twice\nthen stop'}
    item_bulk_create(job=job, gold=False, rows=[ItemRow(data=data, external_id="@x")])
    [row] = _flat(job)
    assert row["data.=cmd"] == "'=HYPERLINK(\"http://evil\")" and row["external_id"] == "'@x"
    assert (row["data.n"], row["data.ok"], json.loads(row["data.tags"])) == ("-3", "true", ["a", "b"])
    assert row["data.quote"] == 'say "hi", twice\nthen stop'  # quoted by csv, read back whole


def test_a_flat_csv_keeps_the_source_column_and_an_empty_job_gets_a_bare_header(job: Job) -> None:
    rows = _flat(job, source_column=True, batch_size=2)
    assert len(rows) == 5 and list(rows[0])[-1] == "source" and rows[3]["data.text"] == "item 3"
    header = _read(results_export(job=JobFactory(), fmt="csv", layout="flat")).decode().strip()
    assert header == "item_id,external_id,consensus_label,confidence,judgment_count"


def test_a_job_too_wide_for_the_flat_layout_is_refused_before_a_byte_is_sent() -> None:
    import marketplace.jobs.exporting as exporting

    job = JobFactory()
    wide = {f"f{i}": "x" for i in range(exporting.MAX_FLAT_COLUMNS + 1)}
    item_bulk_create(job=job, gold=False, rows=[ItemRow(data=wide)])
    with pytest.raises(ApplicationError) as refused:
        results_export(job=job, fmt="csv", layout="flat")
    assert refused.value.details["reason"] == "too_many_columns"
    with pytest.raises(ApplicationError):
        results_export(job=job, fmt="csv", layout="sideways")


def test_ids_that_look_like_formulas_round_trip_in_the_judgments_export_and_stay_guarded_in_the_results(
    wendy: User,
) -> None:
    """The judgments export is crowd-kit's input, joined with a truth file on `task`; the
    results CSV is opened in spreadsheets, where "-0" or "@x" would be read as a formula."""
    job = JobFactory()
    item_bulk_create(job=job, gold=False, rows=[ItemRow(data={"text": ext}, external_id=ext) for ext in ("-0", "@x")])
    for item in Item.objects.filter(job=job).order_by("id"):
        _judge(item, wendy, "cat")

    judged = list(csv.DictReader(io.StringIO(_read(judgments_export(job=job)).decode())))
    assert [row["task"] for row in judged] == ["-0", "@x"]
    results = list(csv.DictReader(io.StringIO(_read(results_export(job=job, fmt="csv")).decode())))
    assert [row["external_id"] for row in results] == ["'-0", "'@x"]
