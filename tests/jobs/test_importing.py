"""items_import: CSV, JSON and JSONL in; every row saved, or none and a 400 naming the line.

A fresh draft job is the target throughout; what a client would notice is the items that
appear (or do not), the job's counters, and the line and reason an error names.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from marketplace.errors import Conflict
from marketplace.jobs import importing
from marketplace.jobs.importing import InvalidImport, items_import, rows_parse
from marketplace.jobs.models import GoldAnswer, Item, Job, JobStatus
from marketplace.jobs.services import job_transition, row_place
from tests.conftest import needs_postgres
from tests.factories import JobFactory, open_job_with_items

pytestmark = pytest.mark.django_db
KEYS = ["cat", "dog", "bird"]


@pytest.fixture
def job() -> Job:
    return JobFactory()


def _state(job: Job) -> tuple[int, int, int, list[Any]]:
    job.refresh_from_db()
    items = list(Item.objects.filter(job=job).order_by("id").values_list("external_id", "data"))
    return job.item_count, job.gold_item_count, GoldAnswer.objects.filter(item__job=job).count(), items


def _refused(job: Job, payload: bytes, fmt: str, *, gold: bool = False) -> dict[str, Any]:
    """Import `payload`, expect a refusal, check nothing moved; return the error's details."""
    before = _state(job)
    with pytest.raises(InvalidImport) as caught:
        items_import(job=job, payload=payload, fmt=fmt, gold=gold)
    assert _state(job) == before, "a refused import changed the job"
    error = caught.value
    assert error.code == "invalid_import" and error.status == 400
    if error.details.get("line") is not None:
        assert error.message.startswith(f"{row_place(error.details['line'], error.details['item'])}: ")
    return {"message": error.message, **error.details}


def test_it_imports_csv_columns_as_data_fields(job: Job) -> None:
    csv_text = "external_id,text,image_url,priority\na1,A cat,https://x/1.jpg,5\na2,\"Two, words\",,\n"
    assert items_import(job=job, payload=csv_text.encode(), fmt="csv", gold=False) == 2
    job.refresh_from_db()
    assert job.item_count == 2 and job.gold_item_count == 0
    first, second = Item.objects.filter(job=job).order_by("id")
    assert (first.external_id, first.priority) == ("a1", 5)
    assert first.data == {"text": "A cat", "image_url": "https://x/1.jpg"}
    assert second.data == {"text": "Two, words", "image_url": ""} and second.priority == 0


def test_it_imports_a_json_array_with_or_without_a_data_key(job: Job) -> None:
    payload = json.dumps([
        {"external_id": "a", "data": {"text": "nested"}, "ignored": 1},
        {"external_id": 7, "text": "flat", "tags": ["x", "y"], "priority": -2},
        {"text": "no id"},
    ], indent=2).encode()
    assert items_import(job=job, payload=payload, fmt="json", gold=False) == 3
    rows = list(Item.objects.filter(job=job).order_by("id").values_list("external_id", "data", "priority"))
    assert rows == [
        ("a", {"text": "nested"}, 0),
        ("7", {"text": "flat", "tags": ["x", "y"]}, -2),
        (None, {"text": "no id"}, 0),
    ]


def test_it_imports_jsonl_skipping_blank_lines(job: Job) -> None:
    payload = b'{"external_id": "a", "text": "one"}\n\n{"data": {"text": "two"}}\r\n'
    assert items_import(job=job, payload=payload, fmt="jsonl", gold=False) == 2
    assert sorted(Item.objects.filter(job=job).values_list("data__text", flat=True)) == ["one", "two"]


def test_it_tolerates_a_utf8_bom_crlf_and_quoted_newlines(job: Job) -> None:
    payload = "\ufeffexternal_id,text\r\nb1,\"two\r\nlines\"\r\nb2,Ünïcødé ✓\r\n".encode()
    assert items_import(job=job, payload=payload, fmt="csv", gold=False) == 2
    assert Item.objects.get(job=job, external_id="b1").data == {"text": "two\r\nlines"}
    assert Item.objects.get(job=job, external_id="b2").data == {"text": "Ünïcødé ✓"}


def test_it_imports_gold_items_with_label_and_explanation(job: Job) -> None:
    payload = b"external_id,text,label,explanation\ng1,Meow,cat,It meows\ng2,Woof,dog,\n"
    assert items_import(job=job, payload=payload, fmt="csv", gold=True) == 2
    job.refresh_from_db()
    assert job.gold_item_count == 2 and job.item_count == 0
    answers = {a.item.external_id: (a.label, a.explanation) for a in GoldAnswer.objects.select_related("item")}
    assert answers == {"g1": ("cat", "It meows"), "g2": ("dog", "")}
    assert Item.objects.get(external_id="g1").data == {"text": "Meow"}  # label is not data


def test_every_gold_answer_lands_on_its_own_item_across_imports(job: Job) -> None:
    for batch in range(3):
        rows = "".join(f"{batch}-{n},{KEYS[(batch + n) % 3]}\n" for n in range(40))
        items_import(job=job, payload=f"text,label\n{rows}".encode(), fmt="csv", gold=True)
    answers = GoldAnswer.objects.filter(item__job=job).select_related("item")
    assert len(answers) == 120
    for answer in answers:
        batch, n = map(int, answer.item.data["text"].split("-"))
        assert answer.label == KEYS[(batch + n) % 3]


def test_it_accepts_a_file_like_payload(job: Job) -> None:
    import io

    assert items_import(job=job, payload=io.BytesIO(b'[{"text": "x"}]'), fmt="json", gold=False) == 1


def test_an_unknown_label_names_the_line_and_the_expected_keys(job: Job) -> None:
    payload = b"text,label\na,cat\nb,dog\nc,cow\n"
    error = _refused(job, payload, "csv", gold=True)
    assert error["message"] == "line 4: unknown label 'cow' (expected one of cat, dog, bird)"
    assert (error["line"], error["reason"]) == (4, "unknown_label")


@pytest.mark.parametrize(
    ("payload", "fmt", "gold", "line", "reason"),
    [
        pytest.param("text\nok\ncaf\xe9\n".encode("latin-1"), "csv", False, 3, "bad_encoding", id="latin-1"),
        pytest.param(b"external_id,text\na,b\n", "csv", True, 1, "missing_column", id="gold-without-label"),
        pytest.param(b"external_id,priority\na,1\n", "csv", False, 1, "missing_column", id="no-data-column"),
        pytest.param(b"text,text\na,b\n", "csv", False, 1, "duplicate_column", id="duplicate-column"),
        pytest.param(b"external_id;text\ns1;hello\n", "csv", False, 1, "wrong_separator", id="semicolons"),
        pytest.param(b"external_id\ttext\ns1\thello\n", "csv", False, 1, "wrong_separator", id="tabs"),
        pytest.param(b"text;label\na;cat\n", "csv", True, 1, "wrong_separator", id="gold-semicolons"),
        pytest.param(b"text,\na,b\n", "csv", False, 1, "missing_column", id="unnamed-column"),
        pytest.param(b"id,text\n1,a\n2,b,c\n", "csv", False, 3, "wrong_field_count", id="extra-field"),
        pytest.param(b'text\n"open quote\n', "csv", False, 2, "malformed_csv", id="unclosed-quote"),
        pytest.param(b"text,priority\na,high\n", "csv", False, 2, "invalid_priority", id="bad-priority"),
        pytest.param(b"text,priority\na,99999\n", "csv", False, 2, "invalid_priority", id="huge-priority"),
        pytest.param(b"text,other\n,\n", "csv", False, 2, "empty_data", id="all-cells-empty"),
        pytest.param(b"text,label\nx,\n", "csv", True, 2, "missing_label", id="gold-empty-label"),
        pytest.param(b"", "csv", False, 1, "empty_file", id="empty-csv"),
        pytest.param(b"text\n", "csv", False, 1, "empty_file", id="header-only"),
        pytest.param(b'{"text": "a"}\n{"text": "b"\n', "jsonl", False, 2, "malformed_json", id="jsonl-bad-line"),
        pytest.param(b'{"text": "a"}\n[1]\n', "jsonl", False, 2, "not_an_object", id="jsonl-array-line"),
        pytest.param(b'{"data": {}}\n', "jsonl", False, 1, "empty_data", id="empty-data"),
        pytest.param(b'{"external_id": "x"}\n', "jsonl", False, 1, "empty_data", id="only-reserved"),
        pytest.param(b'{"text": "a", "external_id": true}\n', "jsonl", False, 1, "invalid_external_id",
                     id="boolean-id"),
        pytest.param(b'{"text": "a\\u0000b"}\n', "jsonl", False, 1, "nul_character", id="nul"),
        pytest.param(b'[{"text": "ok"},\n {"t": ["\\u0000"]}]', "json", False, 2, "nul_character",
                     id="json-nul"),
        pytest.param(b"text\nok\na\x00b\n", "csv", False, 3, "nul_character", id="csv-nul"),
        pytest.param(b"\n\n", "jsonl", False, 1, "empty_file", id="blank-jsonl"),
        pytest.param(b'[\n {"text": "a"},\n {"text": "b"\n]', "json", False, 4, "malformed_json",
                     id="json-missing-brace"),
        pytest.param(b'[\n {"text": "a"},\n]', "json", False, 3, "malformed_json", id="json-trailing-comma"),
        pytest.param(b'[\n {"text": "a"}\n', "json", False, 2, "malformed_json", id="json-unclosed"),
        pytest.param(b'{"text": "a"}', "json", False, 1, "not_an_array", id="json-object"),
        pytest.param(b'[{"text": "a"}] x', "json", False, 1, "malformed_json", id="json-trailing-text"),
        pytest.param(b'[\n"just text"\n]', "json", False, 2, "not_an_object", id="json-string"),
        pytest.param(b"[]", "json", False, 1, "empty_file", id="json-empty-array"),
        pytest.param(b'[{"text": 1, "label": "cow"}]', "json", True, 1, "unknown_label", id="json-gold"),
        pytest.param(b"text\na\n", "xml", False, None, "unknown_format", id="unknown-format"),
    ],
)
def test_a_bad_file_is_refused_whole_naming_line_and_reason(
    job: Job, payload: bytes, fmt: str, gold: bool, line: int | None, reason: str
) -> None:
    items_import(job=job, payload=b"external_id,text\nkeep,me\n", fmt="csv", gold=False)
    error = _refused(job, payload, fmt, gold=gold)
    assert (error["line"], error["reason"]) == (line, reason), error["message"]


def test_a_semicolon_separated_csv_is_refused_saying_to_save_it_comma_separated(job: Job) -> None:
    error = _refused(job, b"external_id;text\ns1;hello\n", "csv")

    assert error["message"] == (
        "line 1: the header is a single column, 'external_id;text': the file seems separated by "
        "semicolons, not commas. Save it as comma-separated CSV (UTF-8)."
    )


def test_a_written_out_backslash_u0000_is_only_text(job: Job) -> None:
    assert items_import(job=job, payload=b'{"text": "C:\\\\u0000"}\n', fmt="jsonl", gold=False) == 1
    assert Item.objects.get(job=job).data == {"text": "C:\\u0000"}


def test_a_duplicate_external_id_in_the_file_names_both_lines(job: Job) -> None:
    error = _refused(job, b"external_id,text\na,1\nb,2\na,3\n", "csv")
    assert (error["line"], error["reason"]) == (4, "duplicate_external_id")
    assert "lines 2 and 4" in error["message"]


def test_an_external_id_already_in_the_job_is_refused(job: Job) -> None:
    items_import(job=job, payload=b"external_id,text\nold,1\n", fmt="csv", gold=False)
    error = _refused(job, b'{"external_id": "new", "text": "2"}\n{"external_id": "old", "text": "3"}\n', "jsonl")
    assert (error["line"], error["reason"]) == (2, "duplicate_external_id")
    assert "'old' already exists" in error["message"]
    # Found under the job lock too, a one-line array's element is named.
    error = _refused(job, b'[{"external_id": "new", "text": "2"}, {"external_id": "old", "text": "3"}]', "json")
    assert (error["line"], error["item"], error["reason"]) == (1, 2, "duplicate_external_id")
    assert error["message"] == "item 2 (line 1): external_id 'old' already exists in this job."


def test_a_file_over_the_size_limit_is_refused(job: Job, settings: Any) -> None:
    settings.QUORUM_MAX_IMPORT_BYTES = 1024
    payload = b"text\n" + b"".join(b"%d\n" % n for n in range(1000))
    assert _refused(job, payload, "csv")["reason"] == "too_large"
    one_line = b"[" + b",".join(b'{"text": "%d"}' % n for n in range(100)) + b"]"  # what json.dumps writes
    refused = _refused(job, one_line, "json")
    assert (refused["reason"], refused["line"]) == ("too_large", None)  # the file's fault, not line 1's
    assert refused["errors"][0]["message"] == "the file is over the 1,024 bytes allowed."


def test_a_file_over_the_row_limit_is_refused(job: Job, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "MAX_IMPORT_ROWS", 3)
    error = _refused(job, b"text\na\nb\nc\nd\n", "csv")
    assert (error["line"], error["reason"]) == (5, "too_many_rows")


def test_it_reports_up_to_twenty_problems_at_once(job: Job) -> None:
    payload = b"text,label\n" + b"".join(b"x,cow\n" for _ in range(30))
    error = _refused(job, payload, "csv", gold=True)
    assert len(error["errors"]) == importing.MAX_REPORTED_PROBLEMS
    assert [e["line"] for e in error["errors"][:3]] == [2, 3, 4]
    assert all(e["reason"] == "unknown_label" for e in error["errors"])


def test_a_closed_job_takes_no_items() -> None:
    job = open_job_with_items(items=2)
    job_transition(job=job, to=JobStatus.CANCELLED)
    with pytest.raises(Conflict):
        items_import(job=job, payload=b"text\nlate\n", fmt="csv", gold=False)
    job.refresh_from_db()
    assert job.item_count == 2 and Item.objects.filter(job=job).count() == 2


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_line_numbers_survive_any_chunk_size(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(importing, "_CHUNK", chunk)
    good = '[\n  {"text": "a é"},\n  {"text": 12345678, "n": [1, 2]}\n]\n'.encode()
    rows = rows_parse(payload=good, fmt="json", gold=False, label_keys=KEYS)
    assert [(r.line, r.data) for r in rows] == [(2, {"text": "a é"}), (3, {"text": 12345678, "n": [1, 2]})]
    bad = b'[\n  {"text": "a"},\n\n  {"text": "b",}\n]\n'
    with pytest.raises(InvalidImport) as caught:
        rows_parse(payload=bad, fmt="json", gold=False, label_keys=KEYS)
    assert caught.value.details["line"] == 4
    csv_rows = rows_parse(payload=b'text\r\n"a\nb"\r\nc\r\n', fmt="csv", gold=False, label_keys=KEYS)
    assert [(r.line, r.data["text"]) for r in csv_rows] == [(2, "a\nb"), (4, "c")]


# No NUL and no lone surrogate (PostgreSQL stores neither; the importer refuses both), numbers
# within marketplace.limits.MAX_JSON_NUMBER_CHARS.
_texts = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=8)
_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | _texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_texts, inner, max_size=3),
    max_leaves=8,
)
_keys = _texts.filter(lambda k: k not in ("external_id", "priority", "data"))
_datas = st.dictionaries(_keys, _values, min_size=1, max_size=4)


@hypothesis_settings(max_examples=60, deadline=None)
@given(datas=st.lists(_datas, min_size=1, max_size=6), indent=st.sampled_from([None, 1, 4]),
       chunk=st.sampled_from([1, 5, 1 << 20]))
def test_json_and_jsonl_round_trip_whatever_the_layout(datas: list[dict[str, Any]], indent: int | None,
                                                        chunk: int) -> None:
    original = importing._CHUNK
    importing._CHUNK = chunk
    try:
        as_json = json.dumps(datas, indent=indent).encode()
        as_jsonl = "".join(json.dumps({"data": d}) + "\n" for d in datas).encode()
        for payload, fmt in ((as_json, "json"), (as_jsonl, "jsonl")):
            parsed = rows_parse(payload=payload, fmt=fmt, gold=False, label_keys=KEYS)
            assert [r.data for r in parsed] == datas
    finally:
        importing._CHUNK = original


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_imports_racing_for_one_external_id_save_it_once() -> None:
    job = JobFactory()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def import_same() -> None:
        try:
            barrier.wait()
            items_import(job=job, payload=b"external_id,text\nsame,x\n", fmt="csv", gold=False)
            outcomes.append("imported")
        except InvalidImport as exc:
            outcomes.append(exc.details["reason"])
        finally:
            connection.close()

    threads = [threading.Thread(target=import_same) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["duplicate_external_id", "imported"]
    job.refresh_from_db()
    assert job.item_count == 1 and Item.objects.filter(job=job).count() == 1
