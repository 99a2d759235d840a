"""Hostile input through the real doors, continued (tests/test_hostile_input.py has the cast and
the imports, instructions and names): ids out of range, NUL characters and over-long free text in
request bodies are each a 400 in the one error format, and change nothing.

Cast: Alice is Acme's client, Ada the admin; Wendy is a worker.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from marketplace.accounts.models import Qualification, User
from marketplace.accounts.qualifications import qualification_create, qualification_update
from marketplace.errors import ApplicationError
from marketplace.jobs.models import Item, Job
from marketplace.labeling.models import JobBlock, Lease
from marketplace.limits import MAX_DESCRIPTION_CHARS, MAX_REASON_CHARS
from tests.factories import open_job_with_items
from tests.portal import browser
from tests.test_hostile_input import LABELS, assert_refused

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def draft(alice: User) -> Job:
    return open_job_with_items(items=1, publish=False, organization=alice.organization)


# --- 1. Ids in bodies: any id out of a bigint's range is a 400, never the driver's OverflowError --


HUGE_IDS = [2**63, 10**30, -(10**30)]


def _id_doors(job: Job, draft: Job) -> dict[str, tuple[str, Any]]:
    """Every body that names rows by id, as (url, body with the id in it)."""
    return {
        "work_next": ("/api/v1/work/next/", lambda i: {"job": i}),
        "predictions": (f"/api/v1/jobs/{job.pk}/predictions/",
                        lambda i: {"model": "m1", "model_version": "1", "predictions": [{"item_id": i, "label": "cat"}]}),
        "more_judgments": (f"/api/v1/jobs/{job.pk}/browse/more-judgments/",
                           lambda i: {"more": 1, "items": [i], "quote": True}),
        "expert_review": (f"/api/v1/jobs/{job.pk}/browse/expert-review/", lambda i: {"items": [i], "quote": True}),
        "items_delete": (f"/api/v1/jobs/{draft.pk}/items/delete/", lambda i: {"ids": [i]}),
        "job_requirements": ("/api/v1/jobs/", lambda i: {"title": "t", "labels": LABELS,
                                                         "requirements": [{"qualification": i}]}),
        "appeal": ("/api/v1/me/appeals/", lambda i: {"kind": "block", "job": i, "reason": "I was careful."}),
    }


@pytest.mark.parametrize("huge", HUGE_IDS, ids=["2**63", "10**30", "-10**30"])
@pytest.mark.parametrize(
    "door", ["work_next", "predictions", "more_judgments", "expert_review", "items_delete", "job_requirements", "appeal"]
)
def test_an_id_out_of_any_range_in_a_body_is_a_400_and_changes_nothing(
    alice: User, wendy: User, client_for: Any, draft: Job, door: str, huge: int
) -> None:
    job = open_job_with_items(items=1, organization=alice.organization)
    url, body = _id_doors(job, draft)[door]
    who = wendy if door in ("work_next", "appeal") else alice
    error = assert_refused(client_for(who).post(url, body(huge), format="json"))
    assert "id" in error["message"]
    assert Job.objects.count() == 2 and Item.objects.count() == 2 and not Lease.objects.exists()


@pytest.mark.parametrize("raw", ["{pk}.0", "true", '"{pk}.0"', '"\u0662"', "0", "-{pk}"])
def test_only_a_whole_number_names_a_job_to_work_on(wendy: User, client_for: Any, raw: str) -> None:
    job = open_job_with_items(items=1)
    body = '{"job": %s}' % raw.format(pk=job.pk)
    assert_refused(client_for(wendy).post("/api/v1/work/next/", body.encode(), content_type="application/json"))
    assert not Lease.objects.exists()


def test_an_id_out_of_range_in_a_query_or_a_portal_form_is_a_400_too(
    alice: User, ada: User, wendy: User, client_for: Any, draft: Job
) -> None:
    assert_refused(client_for(wendy).get("/api/v1/work/judgments/", {"job": str(10**30)}))
    assert_refused(client_for(ada).get("/api/v1/billing/invoices/", {"organization": str(10**30)}))
    page = browser(alice).post(reverse("client-job-setup-remove", args=[draft.pk]), {"item": str(10**30)})
    assert page.status_code in (200, 302) and Item.objects.filter(job=draft).count() == 1


# --- 2. NUL: PostgreSQL text cannot hold it, so the JSON parser refuses it in every string -------


@pytest.mark.parametrize("door", ["job_create", "instructions_edit", "block_reason", "qualification_key"])
def test_a_nul_character_in_any_text_is_a_400_not_a_database_error(
    alice: User, ada: User, wendy: User, client_for: Any, door: str
) -> None:
    # On PostgreSQL (CI's database) this was a 500: "text fields cannot contain NUL (0x00) bytes".
    job = open_job_with_items(items=1, organization=alice.organization, instructions="Be kind.")
    who, url, body = {
        "job_create": (alice, "/api/v1/jobs/", '{"title": "T", "labels": ["a", "b"], "instructions": "a\\u0000b"}'),
        "instructions_edit": (alice, f"/api/v1/jobs/{job.pk}/instructions/", '{"instructions": "a\\u0000b"}'),
        "block_reason": (ada, f"/api/v1/jobs/{job.pk}/workers/{wendy.pk}/block/", '{"reason": "spam\\u0000"}'),
        "qualification_key": (alice, "/api/v1/qualifications/", '{"name": "Q", "d\\u0000": "x"}'),
    }[door]
    api = client_for(who)
    method = api.patch if door == "instructions_edit" else api.post
    error = assert_refused(method(url, body.encode(), content_type="application/json"))
    assert "NUL" in error["message"]
    assert Job.objects.count() == 1 and Job.objects.get().instructions == "Be kind."


# --- 3. Free text people write for each other has a limit of its own ------------------------------


def test_a_block_reason_over_the_limit_is_a_400_and_blocks_nobody(ada: User, wendy: User, client_for: Any) -> None:
    job = open_job_with_items(items=1)
    url = f"/api/v1/jobs/{job.pk}/workers/{wendy.pk}/block/"
    error = assert_refused(client_for(ada).post(url, {"reason": "x" * (MAX_REASON_CHARS + 1)}, format="json"))
    assert f"{MAX_REASON_CHARS:,}" in error["message"]
    assert not JobBlock.objects.exists()
    assert client_for(ada).post(url, {"reason": "x" * MAX_REASON_CHARS}, format="json").status_code == 200


@pytest.mark.parametrize("length", [MAX_DESCRIPTION_CHARS + 1, 100_000])
def test_a_qualification_description_over_the_limit_is_a_400_on_create_and_edit(
    alice: User, client_for: Any, length: int
) -> None:
    long = {"name": "Long", "description": "d" * length}
    error = assert_refused(client_for(alice).post("/api/v1/qualifications/", long, format="json"))
    assert f"{MAX_DESCRIPTION_CHARS:,}" in error["message"] and not Qualification.objects.exists()
    skill = qualification_create(user=alice, name="Long", description="short")
    with pytest.raises(ApplicationError, match="description"):
        qualification_update(user=alice, qualification=skill, **long)
    assert Qualification.objects.get().description == "short"


def test_a_nul_character_in_a_form_field_is_a_400_on_pages_and_the_api(
    alice: User, ada: User, wendy: User, client_for: Any
) -> None:
    job = open_job_with_items(items=1, organization=alice.organization, instructions="Be kind.")
    # As a browser posts a form (the test client's default is multipart).
    page = browser(alice).post(reverse("client-job-instructions", args=[job.pk]), urlencode({"instructions": "a\x00b"}),
                               content_type=FORM)
    assert page.status_code == 400 and "NUL" in page.content.decode()
    form = client_for(ada).post(f"/api/v1/jobs/{job.pk}/workers/{wendy.pk}/block/", urlencode({"reason": "spam\x00"}),
                                content_type=FORM)
    assert_refused(form)
    assert Job.objects.get().instructions == "Be kind." and not JobBlock.objects.exists()


def test_a_nul_character_in_a_multipart_form_field_is_a_400_naming_the_field(alice: User) -> None:
    # As a browser posting multipart (or curl -F) sends it; this reached PostgreSQL: a 500. The
    # API reads multipart only for imports (below); elsewhere it is a 415 (tests/test_api_bodies.py).
    job = open_job_with_items(items=1, organization=alice.organization, instructions="Be kind.")
    page = browser(alice).post(reverse("client-job-instructions", args=[job.pk]), {"instructions": "a\x00b"})
    assert page.status_code == 400 and "'instructions' holds a NUL" in page.content.decode()
    assert Job.objects.get().instructions == "Be kind."


def test_a_nul_in_an_uploaded_file_is_left_to_its_importer_and_a_nul_beside_it_is_refused(
    alice: User, client_for: Any, draft: Job
) -> None:
    url = reverse("client-job-setup-items", args=[draft.pk])
    upload = SimpleUploadedFile("items.csv", b"text\nok\na\x00b\n", content_type="text/csv")
    page = browser(alice).post(url, {"file": upload, "format": "auto"})
    # The importer's own answer, naming the line: the upload was read, not refused at the edge.
    assert page.status_code == 400 and "line" in page.content.decode() and "NUL" in page.content.decode()
    upload = SimpleUploadedFile("items.csv", b"text\nok\n", content_type="text/csv")
    page = browser(alice).post(url, {"file": upload, "format": "auto", "model": "bert\x00"})
    assert page.status_code == 400 and "'model' holds a NUL" in page.content.decode()
    upload = SimpleUploadedFile("items.csv", b"text\nok\n", content_type="text/csv")
    api = client_for(alice).post(f"/api/v1/jobs/{draft.pk}/items/", {"file": upload, "note\x00": "x"}, format="multipart")
    assert assert_refused(api)["details"]["field"] == "note\\x00"
    assert Item.objects.filter(job=draft).count() == 1


# --- 4. A JSON body is an object of fields: [], 3 or "x" is a 400 at every door, not "no fields" ---


@pytest.mark.parametrize("body", ["[]", "[{}]", "7", '"text"', "true", "null"])
@pytest.mark.parametrize("door", [
    "job_create", "quote", "work_next", "webhook", "items_delete", "topup",
    # Doors that once had a check of their own, now left to the parser (parsing.StrictJSONParser).
    "instructions", "predictions", "escrow", "block", "more_judgments", "invoice_paid",
])
def test_a_json_body_that_is_not_an_object_is_a_400_saying_so_and_changes_nothing(
    alice: User, ada: User, wendy: User, client_for: Any, draft: Job, door: str, body: str
) -> None:
    job = f"/api/v1/jobs/{draft.pk}"
    who, url = {
        "job_create": (alice, "/api/v1/jobs/"), "quote": (alice, "/api/v1/quotes/"),
        "work_next": (wendy, "/api/v1/work/next/"), "webhook": (alice, "/api/v1/webhooks/"),
        "items_delete": (alice, f"{job}/items/delete/"), "topup": (ada, "/api/v1/admin/topups/"),
        "instructions": (alice, f"{job}/instructions/"), "predictions": (alice, f"{job}/predictions/"),
        "escrow": (alice, f"{job}/escrow/"), "block": (ada, f"{job}/workers/{wendy.pk}/block/"),
        "more_judgments": (alice, f"{job}/browse/more-judgments/"),
        "invoice_paid": (ada, "/api/v1/admin/invoices/INV-1/paid/"),
    }[door]
    send = client_for(who).patch if door == "instructions" else client_for(who).post
    error = assert_refused(send(url, body.encode(), content_type="application/json"))
    assert "must be a JSON object" in error["message"] and error["details"] == {"body": "not_an_object"}
    assert Job.objects.count() == 1 and Item.objects.count() == 1 and not Lease.objects.exists()
