"""The create-job wizard through Django's test client: details, labels and instructions make a
draft; items and gold uploads show every bad line and import nothing from a bad file; the last
step quotes every tier and publishes, or names the amount missing.

Cast: Alice is Acme's client (funded where a test says so); Carol is Globex's client.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.accounts.qualifications import exam_questions_add, qualification_create
from marketplace.billing.models import JobBudget
from marketplace.billing.selectors import organization_balance
from marketplace.jobs.models import Item, Job, JobStatus
from marketplace.web.client.forms import LabelRow, labels_payload
from tests.factories import JobFactory, fund
from tests.portal import browser

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script>'
GOOD_CSV = b"external_id,text\na1,The cat sat\na2,A dog barked\na3,A bird sang\n"
BAD_CSV = b'external_id,text\na1,fine\na2,too,many,fields\na3,\na1,duplicate id\n'



def details(**overrides: str) -> dict[str, str]:
    data = {
        "title": "Animals in photos",
        "instructions": "Pick **the** animal.",
        "label-0-name": "Cat", "label-0-key": "", "label-0-shortcut": "",
        "label-1-name": "Dog", "label-1-key": "", "label-1-shortcut": "d",
        "label-2-name": "", "label-2-key": "", "label-2-shortcut": "",
    }
    data.update(overrides)
    return data


def draft(alice: User, **overrides: str) -> Job:
    response = browser(alice).post(reverse("job-create"), details(**overrides))
    assert response.status_code == 302, response.content.decode()[:2000]
    return Job.objects.get(organization=alice.organization)


def upload(client: Client, job: Job, content: bytes, *, name: str = "items.csv", gold: bool = False) -> Any:
    step = "client-job-setup-gold" if gold else "client-job-setup-items"
    return client.post(reverse(step, args=[job.pk]),
                       {"file": SimpleUploadedFile(name, content), "format": "auto"}, follow=True)


# Step 1-3: details, labels, instructions

def test_the_first_step_has_labelled_inputs_and_a_preview(alice: User) -> None:
    body = browser(alice).get(reverse("job-create")).content.decode()
    for field_id in ("id_title", "id_instructions", "label-0-name", "label-0-key", "label-0-shortcut"):
        assert f'for="{field_id}"' in body, field_id
    assert 'id="instructions-preview"' in body and "csrfmiddlewaretoken" in body


def test_saving_the_first_step_creates_a_draft_with_derived_keys_and_shortcuts(alice: User) -> None:
    job = draft(alice)
    assert job.status == JobStatus.DRAFT and job.title == "Animals in photos"
    assert job.labels == [
        {"key": "cat", "name": "Cat", "shortcut": "c"},  # the name's first free letter, as the help says
        {"key": "dog", "name": "Dog", "shortcut": "d"},
    ]


def test_the_first_step_makes_a_multi_label_job_when_its_box_is_ticked(alice: User) -> None:
    assert 'for="id_multi_label"' in browser(alice).get(reverse("job-create")).content.decode()
    job = draft(alice, multi_label="on")
    assert job.multi_label is True
    again = browser(alice).get(reverse("client-job-setup", args=[job.pk])).content.decode()
    box = next(tag for tag in again.split("<input") if 'name="multi_label"' in tag)
    assert "checked" in box.split(">")[0]  # editing the draft shows the option as saved


def test_a_bad_label_set_is_shown_on_the_form_and_creates_nothing(alice: User) -> None:
    response = browser(alice).post(reverse("job-create"), details(**{"label-1-name": "", "label-1-shortcut": ""}))
    assert response.status_code == 400
    assert "Give 2 to 50 labels: a name in each row you use." in response.content.decode()
    assert not Job.objects.exists()


def test_duplicate_shortcuts_are_refused(alice: User) -> None:
    response = browser(alice).post(reverse("job-create"), details(**{"label-0-shortcut": "D"}))
    assert response.status_code == 400 and "used twice" in response.content.decode()


def test_a_shortcut_the_labeling_page_keeps_for_itself_is_refused_keeping_what_was_typed(alice: User) -> None:
    response = browser(alice).post(reverse("job-create"), details(**{"label-1-name": "Unsure", "label-1-shortcut": "u"}))

    body = response.content.decode()
    assert response.status_code == 400 and "shortcut &#x27;u&#x27; is reserved" in body and "undoes your last answer" in body
    assert 'value="Unsure"' in body and 'value="u"' in body and 'value="Animals in photos"' in body
    assert not Job.objects.exists()


def test_automatic_shortcuts_skip_the_reserved_keys() -> None:
    # "Undo it" starts with u, kept for undo, so it gets its next free letter.
    assert labels_payload([LabelRow(0, "", "Undo it", ""), LabelRow(1, "", "Neither", "")]) == [
        {"key": "undo-it", "name": "Undo it", "shortcut": "n"},
        {"key": "neither", "name": "Neither", "shortcut": "e"},
    ]
    # With every letter of the name taken, the fallback 1-9, a-z passes over u.
    taken = [LabelRow(i, f"k{i}", f"K{i}", c) for i, c in enumerate("123456789abcdefghijklmnopqrst")]
    assert labels_payload([*taken, LabelRow(99, "x", "-", "")])[-1]["shortcut"] == "v"


def test_the_draft_can_be_edited_and_keeps_its_labels(alice: User) -> None:
    job = draft(alice)
    client = browser(alice)
    page = client.get(reverse("client-job-setup", args=[job.pk])).content.decode()
    assert 'value="Cat"' in page and 'name="label-0-key" value=""' in page  # derived: it follows the name
    client.post(reverse("client-job-setup", args=[job.pk]), details(title="Renamed", **{"label-0-key": "cat"}))
    job.refresh_from_db()
    assert job.title == "Renamed"


def test_the_preview_renders_markdown_and_drops_scripts(alice: User) -> None:
    response = browser(alice).post(reverse("client-instructions-preview"),
                                   {"instructions": f"# Hi\n\n{XSS}\n\n[x](javascript:alert(1)) **bold**"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Hi</h1>" in html and "<strong>bold</strong>" in html
    assert "<script" not in html and "javascript:" not in html


def test_the_preview_works_without_javascript_and_saves_nothing(alice: User) -> None:
    response = browser(alice).post(reverse("job-create"), {**details(instructions="*hello*"), "preview": "1"})
    assert "<em>hello</em>" in response.content.decode()
    assert not Job.objects.exists()


def test_user_content_in_the_wizard_is_escaped(alice: User) -> None:
    job = draft(alice, title=XSS, instructions=XSS, **{"label-0-name": XSS, "label-0-key": "cat"})
    client = browser(alice)
    for name in ("client-job-setup", "client-job-setup-items", "client-job-setup-publish"):
        body = client.get(reverse(name, args=[job.pk])).content.decode()
        assert "<script>alert" not in body, name


# Steps 4-5: items and gold

def test_a_bad_one_line_json_array_shows_which_element_is_wrong(alice: User) -> None:
    job = draft(alice)
    array = json.dumps([{"text": "a"}, {"text": "b"}, {"text": "c", "priority": "high"}]).encode()
    response = upload(browser(alice), job, array, name="items.json")
    body = response.content.decode()
    assert response.status_code == 400
    assert '<span class="line">item 3 (line 1)</span> priority &#x27;high&#x27; is not a whole number' in body


def test_a_bad_csv_shows_each_bad_line_and_imports_nothing(alice: User) -> None:
    job = draft(alice)
    response = upload(browser(alice), job, BAD_CSV)
    body = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was imported" in body
    assert "line 3</span> expected 2 fields, found 4." in body
    assert "line 4</span> every data column is empty." in body
    assert "line 5</span> external_id &#x27;a1&#x27; appears twice (lines 2 and 5)." in body
    assert Item.objects.filter(job=job).count() == 0
    job.refresh_from_db()
    assert job.item_count == 0


def test_a_good_csv_imports_every_row_and_shows_a_sample(alice: User) -> None:
    job = draft(alice)
    response = upload(browser(alice), job, GOOD_CSV)
    body = response.content.decode()
    assert "Imported 3 items." in body and "The cat sat" in body
    job.refresh_from_db()
    assert job.item_count == 3


def test_json_and_jsonl_files_are_read_by_their_extension(alice: User) -> None:
    job = draft(alice)
    client = browser(alice)
    upload(client, job, b'[{"text": "one"}, {"text": "two"}]', name="items.json")
    upload(client, job, b'{"text": "three"}\n', name="items.jsonl")
    job.refresh_from_db()
    assert job.item_count == 3


def test_a_file_of_unknown_format_asks_which_it_is(alice: User) -> None:
    job = draft(alice)
    body = upload(browser(alice), job, GOOD_CSV, name="items.txt").content.decode()
    assert "Cannot tell the file&#x27;s format" in body
    assert Item.objects.filter(job=job).count() == 0


def test_item_data_in_the_sample_is_escaped(alice: User) -> None:
    job = draft(alice)
    body = upload(browser(alice), job, b'text\n"<img src=x onerror=alert(1)>"\n').content.decode()
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body


def test_gold_with_an_unknown_label_names_the_line_and_imports_nothing(alice: User) -> None:
    job = draft(alice)
    client = browser(alice)
    body = upload(client, job, b"text,label\nok,cat\nbad,horse\n", gold=True).content.decode()
    assert "line 3</span> unknown label &#x27;horse&#x27; (expected one of cat, dog)" in body
    job.refresh_from_db()
    assert job.gold_item_count == 0
    body = upload(client, job, b"text,label\nok,cat\nfine,dog\n", gold=True).content.decode()
    assert "Imported 2 gold items." in body


def test_the_gold_steps_help_names_its_columns_without_markdown_backticks(alice: User) -> None:
    job = draft(alice)
    body = browser(alice).get(reverse("client-job-setup-gold", args=[job.pk])).content.decode()
    assert "plus a “label” column" in body and "`" not in body.split('id="id_file_helptext"')[1].split("</p>")[0]


# Step 6: quotes and publish

def test_the_last_step_quotes_every_tier_side_by_side(alice: User) -> None:
    job = draft(alice)
    upload(browser(alice), job, GOOD_CSV)
    body = browser(alice).get(reverse("client-job-setup-publish", args=[job.pk])).content.decode()
    for name, price in (("Economy", "0.21"), ("Standard", "0.30"), ("Premium", "1.35")):
        assert name in body and f'data-field="price">${price}<' in body
    assert "Expected judgments" in body and "Expected accuracy" in body and "Expected time" in body
    assert "tier default (no history yet)" in body


def test_publishing_without_funds_names_the_missing_amount_and_links_to_billing(alice: User) -> None:
    fund(alice.organization, "0.10")
    job = draft(alice)
    upload(browser(alice), job, GOOD_CSV)
    response = browser(alice).post(reverse("client-job-setup-publish", args=[job.pk]), {"tier": "premium"})
    body = response.content.decode()
    assert response.status_code == 402
    assert "Not enough funds" in body and '<strong class="missing">$1.25</strong>' in body
    assert reverse("client-billing") in body
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT and job.tier == "premium"  # the choice is kept
    assert organization_balance(organization=alice.organization) == Decimal("0.10")


def test_publishing_with_funds_applies_the_tier_and_opens_the_job(alice: User) -> None:
    fund(alice.organization, "10.00")
    job = draft(alice)
    client = browser(alice)
    upload(client, job, GOOD_CSV)
    response = client.post(reverse("client-job-setup-publish", args=[job.pk]), {"tier": "economy"})
    assert response.status_code == 302 and response["Location"] == reverse("job-page", args=[job.pk])
    job.refresh_from_db()
    assert job.status == JobStatus.OPEN and job.tier == "economy"
    assert job.reward_per_judgment == Decimal("0.0150") and job.gold_rate == Decimal("0.0500")
    assert JobBudget.objects.get(job=job).budget == Decimal("0.21")  # 3 items × 0.07, as quoted
    assert organization_balance(organization=alice.organization) == Decimal("9.79")


def test_publishing_can_require_a_qualification_with_a_minimum_score(alice: User, ada: User) -> None:
    skill = qualification_create(user=ada, name="Animal spotting", exam_labels=["cat", "dog"], pass_mark="0.8")
    exam_questions_add(user=ada, qualification=skill, questions=[{"data": {"text": "meow"}, "answer": "cat"}])
    fund(alice.organization, "10.00")
    job = draft(alice)
    client = browser(alice)
    upload(client, job, GOOD_CSV)
    page = client.get(reverse("client-job-setup-publish", args=[job.pk])).content.decode()
    assert "Only workers qualified in" in page and "Animal spotting" in page
    response = client.post(reverse("client-job-setup-publish", args=[job.pk]),
                           {"tier": "economy", "qualification": str(skill.pk), "min_score": "0.9"})
    assert response.status_code == 302
    assert list(job.requirements.values_list("qualification_id", "min_score")) == [(skill.pk, Decimal("0.9000"))]


def test_a_minimum_score_above_one_is_refused_and_nothing_is_published(alice: User, ada: User) -> None:
    skill = qualification_create(user=ada, name="Animal spotting", exam_labels=["cat", "dog"], pass_mark="0.8")
    fund(alice.organization, "10.00")
    job = draft(alice)
    upload(browser(alice), job, GOOD_CSV)
    response = browser(alice).post(reverse("client-job-setup-publish", args=[job.pk]),
                                   {"tier": "economy", "qualification": str(skill.pk), "min_score": "1.5"})
    assert response.status_code == 400 and "less than or equal to 1" in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT and not job.requirements.exists()


def test_a_published_job_sends_setup_steps_to_its_page(alice: User) -> None:
    fund(alice.organization, "10.00")
    job = draft(alice)
    client = browser(alice)
    upload(client, job, GOOD_CSV)
    client.post(reverse("client-job-setup-publish", args=[job.pk]), {"tier": "standard"})
    response = client.get(reverse("client-job-setup-items", args=[job.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("job-page", args=[job.pk])


def test_wizard_steps_of_another_organizations_draft_are_404(alice: User, carol: User) -> None:
    job = JobFactory(organization=alice.organization)
    client = browser(carol)
    assert client.post(reverse("client-job-setup-items", args=[job.pk]),
                       {"file": SimpleUploadedFile("x.csv", GOOD_CSV)}).status_code == 404
    assert client.post(reverse("client-job-setup-publish", args=[job.pk]), {"tier": "economy"}).status_code == 404
    assert Item.objects.filter(job=job).count() == 0


def test_the_last_step_says_per_tier_whether_the_promise_will_be_measured(alice: User) -> None:
    """Three items and one gold item: no tier can judge ten gold items, and the page says so."""
    job = draft(alice)
    client = browser(alice)
    upload(client, job, GOOD_CSV)
    assert "Imported 1 gold item" in upload(client, job, b"text,label\nA cat,cat\n", gold=True).content.decode()
    body = client.get(reverse("client-job-setup-publish", args=[job.pk])).content.decode()
    assert body.count('data-measured="no"') == 3 and 'data-measured="yes"' not in body
    assert "Will not apply to this job" in body and "needs 10 judged gold items" in body


def test_a_job_with_gold_answers_to_spare_is_offered_more_gold_items(alice: User) -> None:
    """800 items: enough gold answers on every tier, but 6 gold items can never make 10 judged."""
    job = draft(alice)
    client = browser(alice)
    rows = "".join(f"a{i},Animal {i}\n" for i in range(800))
    upload(client, job, f"external_id,text\n{rows}".encode())
    golds = "".join(f"A cat {i},cat\n" for i in range(6))
    assert "Imported 6 gold items" in upload(client, job, f"text,label\n{golds}".encode(), gold=True).content.decode()
    body = client.get(reverse("client-job-setup-publish", args=[job.pk])).content.decode()
    assert body.count('data-measured="no"') == 3
    assert "Add 4 gold items" in body and reverse("client-job-setup-gold", args=[job.pk]) in body
    more = "".join(f"A dog {i},dog\n" for i in range(6))
    upload(client, job, f"text,label\n{more}".encode(), gold=True)
    body = client.get(reverse("client-job-setup-publish", args=[job.pk])).content.decode()
    assert body.count('data-measured="yes"') == 3 and "Measured at the end on about 12 of your 12 gold items" in body
