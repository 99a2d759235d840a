"""Hostile input through the real doors: every request a person can type is refused with a 4xx in
the one error format, and refused requests change nothing (items, job fields, leases, payouts).

Cast: Alice is Acme's client; Wendy and Walter are workers; Carol is Globex's client (her job
shares the work list with Alice's, so one bad job must not break the page for everyone).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.billing.models import Payout
from marketplace.jobs.models import Item, Job
from marketplace.labeling.models import Judgment, Lease, LeaseStatus
from marketplace.limits import (
    MAX_DATA_FIELD_CHARS,
    MAX_ITEM_DATA_CHARS,
    MAX_INSTRUCTIONS_CHARS,
    MAX_INSTRUCTIONS_NESTING,
    MAX_LABEL_NAME_CHARS,
)
from tests.factories import JobFactory, open_job_with_items
from tests.portal import browser

pytestmark = pytest.mark.django_db

LABELS = [{"key": "cat"}, {"key": "dog"}]
DEEP = "[" * 3000 + "]" * 3000
LONG = "x" * (MAX_DATA_FIELD_CHARS + 1)

# One record each that PostgreSQL or Python cannot take, as it appears in a JSON/JSONL file.
HOSTILE_JSON_VALUES = {
    "nan": "NaN",
    "infinity": "Infinity",
    "minus_infinity": "-Infinity",
    "huge_float": "1e999",
    "lone_surrogate": '"\\ud800"',
    "long_integer": "9" * 5000,
    "deep_array": DEEP,
    "long_string": f'"{LONG}"',
    "nul": '"a\\u0000b"',
}



def assert_refused(response: Any, status: int = 400) -> dict[str, Any]:
    """A 4xx in the one format: {"error": {"code", "message", "details"}}."""
    assert response.status_code == status, response.content[:500]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["message"]
    return error


@pytest.fixture
def draft(alice: User) -> Job:
    return open_job_with_items(items=1, publish=False, organization=alice.organization)


# --- 1. Item imports: JSON, JSONL, CSV and the wizard's upload -----------------------------------


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
@pytest.mark.parametrize("kind", sorted(HOSTILE_JSON_VALUES))
def test_an_import_holding_a_value_postgresql_cannot_store_is_refused_and_imports_nothing(
    alice: User, client_for: Any, draft: Job, fmt: str, kind: str
) -> None:
    record = '{"text": "fine", "odd": %s}' % HOSTILE_JSON_VALUES[kind]
    body = f'{{"text": "ok"}}\n{record}\n' if fmt == "jsonl" else f'[{{"text": "ok"}},\n{record}]'
    response = client_for(alice).post(
        f"/api/v1/jobs/{draft.pk}/items/?format={fmt}", body.encode(), content_type="application/json"
    )
    error = assert_refused(response)
    assert error["code"] == "invalid_import" and error["details"]["line"] == 2
    assert Item.objects.filter(job=draft).count() == 1


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_a_data_field_has_one_length_limit_in_every_format(
    alice: User, client_for: Any, draft: Job, fmt: str
) -> None:
    body = {
        "csv": f"text\nok\n{LONG}\n",
        "json": f'[{{"text": "ok"}}, {{"text": "{LONG}"}}]',
        "jsonl": f'{{"text": "ok"}}\n{{"text": "{LONG}"}}\n',
    }[fmt]
    response = client_for(alice).post(
        f"/api/v1/jobs/{draft.pk}/items/?format={fmt}", body.encode(), content_type="text/plain"
    )
    assert assert_refused(response)["details"]["reason"] == "field_too_long"
    fits = body.replace(LONG, LONG[:-1])
    ok = client_for(alice).post(
        f"/api/v1/jobs/{draft.pk}/items/?format={fmt}", fits.encode(), content_type="text/plain"
    )
    assert ok.status_code == 201 and Item.objects.filter(job=draft).count() == 3


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_an_items_data_as_a_whole_has_a_limit_in_every_format_numbers_counted(
    alice: User, client_for: Any, draft: Job, fmt: str
) -> None:
    # Fields each within their own limit, together past the item's: many text fields in CSV, and
    # in JSON a list of numbers (which the field limit never counted).
    fields = MAX_ITEM_DATA_CHARS // MAX_DATA_FIELD_CHARS + 1
    numbers = "[" + ",".join(["1234567"] * (MAX_ITEM_DATA_CHARS // 8 + 1)) + "]"
    body = {
        "csv": ",".join(f"f{n}" for n in range(fields)) + "\n" + ",".join([LONG[:-1]] * fields) + "\n",
        "json": f'[{{"text": "ok"}}, {{"numbers": {numbers}}}]',
        "jsonl": f'{{"text": "ok"}}\n{{"numbers": {numbers}}}\n',
    }[fmt]
    response = client_for(alice).post(
        f"/api/v1/jobs/{draft.pk}/items/?format={fmt}", body.encode(), content_type="text/plain"
    )
    refused = assert_refused(response)
    assert refused["details"]["reason"] == "item_too_large"
    assert "1,000,000 characters" in refused["message"]
    assert Item.objects.filter(job=draft).count() == 1  # the draft's own: nothing imported


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_nul_in_an_uploaded_json_file_is_refused_by_the_importers_decoder_naming_the_line(
    alice: User, client_for: Any, draft: Job, fmt: str
) -> None:
    # An upload never meets the API's JSON parser: the importers decode it (parsing.json_decode),
    # and that decoder is their only NUL check.
    record = '{"text": "fine", "odd": %s}' % HOSTILE_JSON_VALUES["nul"]
    content = f'{{"text": "ok"}}\n{record}\n' if fmt == "jsonl" else f'[{{"text": "ok"}},\n{record}]'
    upload = SimpleUploadedFile(f"items.{fmt}", content.encode(), content_type="application/octet-stream")
    response = client_for(alice).post(f"/api/v1/jobs/{draft.pk}/items/", {"file": upload}, format="multipart")
    error = assert_refused(response)
    assert (error["details"]["line"], error["details"]["reason"]) == (2, "nul_character")
    assert Item.objects.filter(job=draft).count() == 1


@pytest.mark.parametrize("kind", ["nan", "lone_surrogate", "long_integer", "deep_array", "nul"])
def test_the_wizard_upload_shows_the_bad_line_instead_of_an_error_page(alice: User, draft: Job, kind: str) -> None:
    content = f'{{"text": "ok"}}\n{{"text": {HOSTILE_JSON_VALUES[kind]}}}\n'.encode()
    response = browser(alice).post(
        reverse("client-job-setup-items", args=[draft.pk]),
        {"file": SimpleUploadedFile("items.jsonl", content), "format": "auto"},
    )
    assert response.status_code == 400
    assert "line 2" in response.content.decode() or ">2<" in response.content.decode()
    assert Item.objects.filter(job=draft).count() == 1


# --- 1. JSON request bodies, amounts, months ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"title": "x", "labels": ["cat", "dog"], "priority": ' + DEEP + "}",
        '{"title": "x", "labels": ["cat", "dog"], "overlap": 1e999}',
        '{"title": "x", "labels": ["cat", "dog"], "overlap": NaN}',
        '{"title": "x", "labels": ["cat", "dog"], "priority": ' + "9" * 5000 + "}",
        '{"title": "\\ud800", "labels": ["cat", "dog"]}',
    ],
    ids=["deep", "huge_float", "nan", "long_integer", "lone_surrogate"],
)
def test_a_job_body_python_cannot_parse_is_a_400_and_creates_nothing(alice: User, client_for: Any, body: str) -> None:
    response = client_for(alice).post("/api/v1/jobs/", body.encode(), content_type="application/json")
    assert assert_refused(response)["code"] in {"parse_error", "invalid"}
    assert Job.objects.count() == 0


def test_a_hostile_submit_body_is_a_400_and_the_lease_stays_as_it_was(wendy: User, client_for: Any) -> None:
    job = open_job_with_items(items=2)
    api = client_for(wendy)
    lease_id = api.post("/api/v1/work/next/", {"job": job.pk}, format="json").json()["lease"]
    deep = '{"label": "cat", "seconds_spent": ' + DEEP + "}"
    assert_refused(api.post(f"/api/v1/work/leases/{lease_id}/submit/", deep.encode(), content_type="application/json"))
    huge = api.post(f"/api/v1/work/leases/{lease_id}/submit/", {"label": "cat", "seconds_spent": "1e400"}, format="json")
    assert_refused(huge)
    page = browser(wendy).post(reverse("work-label-answer", args=[lease_id]), deep, content_type="application/json")
    assert_refused(page)
    assert Lease.objects.get(pk=lease_id).status == LeaseStatus.ACTIVE
    assert not Judgment.objects.exists()


@pytest.mark.parametrize("amount", ["1e400", "-1e400", "1E+9999", "NaN", "0.1e-9999"])
def test_a_payout_amount_out_of_any_range_is_a_400(wendy: User, client_for: Any, amount: str) -> None:
    assert_refused(client_for(wendy).post("/api/v1/me/payouts/", {"amount": amount}, format="json"))
    assert not Payout.objects.exists()


@pytest.mark.parametrize("amount", ["1e3", "1E+9", "\u0661\u0662", "\uff11\uff12", "1_000", "+5", "12.", ".5", "0x10"])
def test_an_amount_not_in_plain_ascii_digits_is_a_400_showing_it_as_typed(
    alice: User, wendy: User, client_for: Any, amount: str
) -> None:
    job = open_job_with_items(items=1, organization=alice.organization)
    added = client_for(alice).post(f"/api/v1/jobs/{job.pk}/escrow/", {"amount": amount}, format="json",
                                   HTTP_IDEMPOTENCY_KEY="e-1")
    assert f'not "{amount}"' in assert_refused(added)["message"]
    assert f'not "{amount}"' in assert_refused(client_for(wendy).post(
        "/api/v1/me/payouts/", {"amount": amount}, format="json", HTTP_IDEMPOTENCY_KEY="p-1"))["message"]
    assert not Payout.objects.exists()


@pytest.mark.parametrize("fields", [{"reward_per_judgment": "1e400"}, {"gold_rate": "1e-400"},
                                    {"quality_rules": {"fast_seconds": "1e400"}}])
def test_job_decimals_out_of_any_range_are_a_400(alice: User, client_for: Any, fields: dict[str, Any]) -> None:
    response = client_for(alice).post("/api/v1/jobs/", {"title": "x", "labels": LABELS, **fields}, format="json")
    assert_refused(response)
    assert Job.objects.count() == 0


@pytest.mark.parametrize("month", ["0000-01", "9999-12", "2026-13", "２０２６-01"])
def test_an_impossible_invoice_month_is_a_400(alice: User, client_for: Any, month: str) -> None:
    assert_refused(client_for(alice).get("/api/v1/billing/invoices/", {"month": month}))


# --- 2. Instructions: limited, rendered once, never breaking another job's page ------------------


def nested_list(depth: int) -> str:
    return "".join("    " * level + "- deeper\n" for level in range(depth))


HOSTILE_INSTRUCTIONS = {
    "too_long": "a" * (MAX_INSTRUCTIONS_CHARS + 1),
    "too_deep": nested_list(MAX_INSTRUCTIONS_NESTING + 2),
    "brackets": "[" * 8000,
    "images": "![" * 4000,
    "angle_brackets": "<a " * 3000,
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_INSTRUCTIONS))
def test_hostile_instructions_are_refused_quickly_on_create_and_on_edit(
    alice: User, client_for: Any, kind: str
) -> None:
    api = client_for(alice)
    text = HOSTILE_INSTRUCTIONS[kind]
    started = time.monotonic()
    assert_refused(api.post("/api/v1/jobs/", {"title": "x", "labels": LABELS, "instructions": text}, format="json"))
    job_id = api.post("/api/v1/jobs/", {"title": "x", "labels": LABELS, "instructions": "Be *kind*."},
                      format="json").json()["id"]
    assert_refused(api.patch(f"/api/v1/jobs/{job_id}/", {"instructions": text}, format="json"))
    assert time.monotonic() - started < 2
    job = Job.objects.get()
    assert job.instructions == "Be *kind*." and "<em>kind</em>" in job.instructions_html


def test_the_wizard_refuses_hostile_instructions_with_the_form_shown_again(alice: User) -> None:
    form = {"title": "Animals", "instructions": nested_list(MAX_INSTRUCTIONS_NESTING + 2),
            "label-0-name": "Cat", "label-1-name": "Dog"}
    response = browser(alice).post(reverse("job-create"), form)
    assert response.status_code == 400 and "nested" in response.content.decode()
    assert Job.objects.count() == 0


def test_a_job_whose_instructions_cannot_render_breaks_no_page_and_leaves_no_lease(
    alice: User, carol: User, wendy: User, client_for: Any
) -> None:
    # Stored before the limits (the migration renders such jobs with the same fallback).
    bad = open_job_with_items(items=1, organization=alice.organization, instructions=nested_list(400), priority=1)
    good = open_job_with_items(items=1, organization=carol.organization, instructions="Pick **one**.")
    assert "deeper" in bad.instructions_html and "<script" not in bad.instructions_html
    page = browser(wendy).get(reverse("work-list"))
    assert page.status_code == 200 and bad.title in page.content.decode() and good.title in page.content.decode()
    listed = client_for(wendy).get("/api/v1/work/jobs/")
    assert listed.status_code == 200 and listed.json()["count"] == 2
    assert browser(wendy).get(reverse("work-label", args=[bad.pk])).status_code == 200
    claimed = client_for(wendy).post("/api/v1/work/next/", {"job": bad.pk}, format="json")
    assert claimed.status_code == 200 and Lease.objects.filter(worker=wendy).count() == 1


def test_job_lists_never_load_the_instructions(alice: User, client_for: Any, wendy: User) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    open_job_with_items(items=1, organization=alice.organization, instructions="secret " * 1000)
    for client, url in ((client_for(alice), "/api/v1/jobs/"), (client_for(wendy), "/api/v1/work/jobs/")):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        assert not [q["sql"] for q in queries if '"instructions"' in q["sql"]], url


# --- 5. Names and tiers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"labels": [{"key": "cat", "name": "C" * (MAX_LABEL_NAME_CHARS + 1)}, {"key": "dog"}]},
        {"labels": [{"key": "cat", "name": "Cat\u202egnp.exe"}, {"key": "dog"}]},
        {"labels": [{"key": "cat", "name": "Ca\u200bt"}, {"key": "dog"}]},
        {"title": "Animals\u2067 hidden"},
        {"title": "\ufeffAnimals"},
        {"tier": "platinum-plus"},
        # Not text: before, str() saved the title ["x"] as "['x']" and 123 as "123".
        {"title": ["x"]},
        {"title": 123},
        {"title": {"text": "x"}},
        {"labels": [{"key": "cat", "name": 5}, {"key": "dog"}]},
        {"labels": [{"key": 7}, {"key": "dog"}]},
        {"labels": [{"key": "cat", "shortcut": 1}, {"key": "dog"}]},
        {"tier": 3},
    ],
    ids=["long_label", "bidi_label", "zero_width_label", "bidi_title", "bom_title", "unknown_tier",
         "list_title", "number_title", "object_title", "number_label_name", "number_key", "number_shortcut",
         "number_tier"],
)
def test_names_with_hidden_controls_unknown_tiers_or_not_text_are_refused_never_stored(
    alice: User, client_for: Any, fields: dict[str, Any]
) -> None:
    api = client_for(alice)
    assert_refused(api.post("/api/v1/jobs/", {"title": "Animals", "labels": LABELS, **fields}, format="json"))
    assert Job.objects.count() == 0
    job_id = api.post("/api/v1/jobs/", {"title": "Animals", "labels": LABELS}, format="json").json()["id"]
    assert_refused(api.patch(f"/api/v1/jobs/{job_id}/", fields, format="json"))
    job = Job.objects.get()
    assert (job.title, job.tier, [(c["key"], c["name"]) for c in job.labels]) == (
        "Animals", "standard", [("cat", "cat"), ("dog", "dog")])


@pytest.mark.parametrize("names", [("x", "x"), ("Dog", "dog"), ("Big  dog", " big dog ")])
def test_two_labels_that_read_the_same_are_refused_naming_them(
    alice: User, client_for: Any, names: tuple[str, str]
) -> None:
    labels = [{"key": "a", "name": names[0]}, {"key": "b", "name": names[1]}, {"key": "c"}]
    error = assert_refused(client_for(alice).post("/api/v1/jobs/", {"title": "T", "labels": labels}, format="json"))
    assert names[1].strip() in error["message"] and error["details"]["positions"] == [1, 2]
    assert Job.objects.count() == 0


def test_an_organization_name_with_bidi_controls_is_refused_at_sign_up(api: Any) -> None:
    response = api.post("/api/v1/auth/signup/", {"username": "mallory", "password": "a-long-passphrase-42",
                                                  "role": "client", "organization": "Acme\u202e Inc"}, format="json")
    assert_refused(response)
    assert not User.objects.filter(username="mallory").exists()


# --- 4. Exports: formulas stay text ----------------------------------------------------------------


def test_csv_exports_write_formula_cells_as_text(alice: User, client_for: Any) -> None:
    job = JobFactory(organization=alice.organization)
    from marketplace.jobs.services import ItemRow, item_bulk_create

    item_bulk_create(job=job, rows=[ItemRow(data={"text": "x"}, external_id="=HYPERLINK(\"http://evil\")")], gold=False)
    body = b"".join(client_for(alice).get(f"/api/v1/jobs/{job.pk}/results/?format=csv").streaming_content).decode()
    assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body
