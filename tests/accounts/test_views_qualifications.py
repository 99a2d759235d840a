"""Qualification pages: clients write their organization's, staff platform-wide ones.

The cast (tests/conftest.py): Alice is Acme's client, Carol is Globex's; Ada is an admin; Wendy is
a worker. Carol must never see or change Acme's qualification; Wendy sees no portal page at all.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import ExamQuestion, Qualification, TrainingItem, User
from marketplace.accounts.qualifications import qualification_create
from marketplace.jobs.models import GoldAnswer
from tests.factories import THREE_LABELS, open_job_with_items
from tests.portal import browser

pytestmark = pytest.mark.django_db

LABEL_LINES = "cat, Cat, 1\ndog, Dog, 2\nbird, Bird, 3"



def settings_form(**overrides: str) -> dict[str, str]:
    return {"name": "Animal spotting", "description": "Cats, dogs and birds.", "labels": LABEL_LINES,
            "pass_percent": "80", "retry_cooldown_seconds": "2", **overrides}


@pytest.fixture
def acme_skill(alice: User) -> Qualification:
    return qualification_create(user=alice, name="Acme birds", exam_labels=THREE_LABELS)


def add(client: Client, skill: Qualification, target: str, how: str, data: dict[str, Any]) -> Any:
    return client.post(reverse("client-qualification-add", args=[skill.pk, target, how]), data)


def upload(client: Client, skill: Qualification, content: bytes, name: str, target: str = "exam") -> Any:
    file = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    return add(client, skill, target, "upload", {f"{target}-upload-file": file, f"{target}-upload-format": "auto"})


# Creating and editing


def test_a_client_creates_a_qualification_owned_by_its_organization(alice: User) -> None:
    response = browser(alice).post(reverse("client-qualification-new"), settings_form())
    skill = Qualification.objects.get(name="Animal spotting")
    assert response.status_code == 302 and response["Location"] == reverse("client-qualification", args=[skill.pk])
    assert skill.owner == alice.organization
    assert [label["key"] for label in skill.exam_labels] == ["cat", "dog", "bird"]
    assert (skill.pass_mark, skill.retry_cooldown_seconds) == (Decimal("0.8"), 2)


def test_labels_can_be_taken_from_one_of_the_clients_jobs(alice: User) -> None:
    job = open_job_with_items(items=1, organization=alice.organization, publish=False)
    browser(alice).post(reverse("client-qualification-new"), settings_form(labels="", labels_from_job=str(job.pk)))
    assert Qualification.objects.get(name="Animal spotting").exam_labels == job.labels


def test_a_bad_label_set_is_refused_with_its_reason_and_nothing_is_created(alice: User) -> None:
    response = browser(alice).post(reverse("client-qualification-new"), settings_form(labels="only one"))
    assert response.status_code == 400 and "2 to 50" in response.content.decode()
    assert not Qualification.objects.exists()


def test_editing_keeps_labels_that_questions_answer_with(alice: User, acme_skill: Qualification) -> None:
    client = browser(alice)
    add(client, acme_skill, "exam", "typed", {"exam-typed-text": "Tweets", "exam-typed-answer": "bird"})
    response = client.post(reverse("client-qualification", args=[acme_skill.pk]),
                           settings_form(labels="cat, Cat\ndog, Dog"))
    assert response.status_code == 400 and "bird" in response.content.decode()
    acme_skill.refresh_from_db()
    assert acme_skill.name == "Acme birds" and len(acme_skill.exam_labels) == 3
    saved = client.post(reverse("client-qualification", args=[acme_skill.pk]), settings_form(pass_percent="60"))
    acme_skill.refresh_from_db()
    assert saved.status_code == 302 and acme_skill.pass_mark == Decimal("0.6")


# Tenancy


def test_a_client_sees_only_its_organizations_qualifications(alice: User, carol: User, ada: User,
                                                             acme_skill: Qualification) -> None:
    qualification_create(user=ada, name="Platform skill", exam_labels=THREE_LABELS)
    mine = browser(alice).get(reverse("client-qualifications")).content.decode()
    theirs = browser(carol).get(reverse("client-qualifications")).content.decode()
    assert "Acme birds" in mine and "Platform skill" not in mine
    assert "Acme birds" not in theirs


def test_another_organizations_qualification_is_a_404_and_stays_unchanged(carol: User,
                                                                           acme_skill: Qualification) -> None:
    client = browser(carol)
    page = reverse("client-qualification", args=[acme_skill.pk])
    assert client.get(page).status_code == 404
    assert client.post(page, settings_form(name="Hijacked")).status_code == 404
    typed = add(client, acme_skill, "exam", "typed", {"exam-typed-text": "x", "exam-typed-answer": "cat"})
    assert typed.status_code == 404
    acme_skill.refresh_from_db()
    assert acme_skill.name == "Acme birds" and not ExamQuestion.objects.exists()


def test_gold_of_another_organizations_job_cannot_be_copied(carol: User, acme_skill: Qualification,
                                                            alice: User) -> None:
    globex_skill = qualification_create(user=carol, name="Globex", exam_labels=THREE_LABELS)
    acme_job = open_job_with_items(items=1, gold=2, organization=alice.organization, publish=False)
    response = browser(carol).post(reverse("client-qualification-add", args=[globex_skill.pk, "exam", "gold"]),
                                   {"exam-gold-job": str(acme_job.pk)})
    assert response.status_code == 400 and not ExamQuestion.objects.exists()


def test_workers_and_admins_do_not_reach_the_client_pages(wendy: User, ada: User) -> None:
    for user in (wendy, ada):
        assert browser(user).get(reverse("client-qualifications")).status_code == 404
    assert browser(wendy).get(reverse("staff-qualifications")).status_code == 404


def test_staff_create_platform_wide_qualifications(ada: User, acme_skill: Qualification) -> None:
    response = browser(ada).post(reverse("staff-qualification-new"), settings_form(name="Platform birds"))
    skill = Qualification.objects.get(name="Platform birds")
    assert response.status_code == 302 and skill.owner is None
    listing = browser(ada).get(reverse("staff-qualifications")).content.decode()
    assert "Platform birds" in listing and "Acme birds" in listing


# Three ways to add questions


def test_a_typed_question_and_a_typed_practice_item_are_added(alice: User, acme_skill: Qualification) -> None:
    client = browser(alice)
    add(client, acme_skill, "exam", "typed", {"exam-typed-text": "Tweets", "exam-typed-answer": "bird"})
    add(client, acme_skill, "training", "typed", {"training-typed-text": "Purrs", "training-typed-answer": "cat",
                                                  "training-typed-explanation": "Only cats purr."})
    assert list(ExamQuestion.objects.values_list("data", "answer")) == [({"text": "Tweets"}, "bird")]
    assert list(TrainingItem.objects.values_list("answer", "explanation")) == [("cat", "Only cats purr.")]
    page = client.get(reverse("client-qualification", args=[acme_skill.pk])).content.decode()
    assert "Tweets" in page and "Only cats purr." in page
    assert 'aria-label="Type an exam question"' in page and 'aria-label="Type a training question"' in page


def test_a_csv_and_a_jsonl_file_are_uploaded(alice: User, acme_skill: Qualification) -> None:
    client = browser(alice)
    csv = b"text,answer,explanation\nMeows,cat,\nBarks,dog,Dogs bark.\n"
    assert upload(client, acme_skill, csv, "exam.csv").status_code == 302
    jsonl = b'{"data": {"text": "Sings"}, "answer": "bird", "explanation": "Birds sing."}\n{"text": "Howls", "label": "dog"}\n'
    assert upload(client, acme_skill, jsonl, "practice.jsonl", target="training").status_code == 302
    assert sorted(ExamQuestion.objects.values_list("answer", flat=True)) == ["cat", "dog"]
    assert list(TrainingItem.objects.values_list("answer", "explanation")) == [("bird", "Birds sing."), ("dog", "")]


@pytest.mark.parametrize("content, name, reason", [
    (b"text,answer\nMeows,cat\nBarks,horse\n", "bad.csv", "line 3: the answer &#x27;horse&#x27; is not one of the labels"),
    (b"text,answer\nMeows,cat\nBarks\n", "short.csv", "line 3"),
    (b'{"text": "Meows", "answer": "cat"}\nnot json\n', "bad.jsonl", "line 2"),
    (b"text,answer\nMeows,cat\n", "questions.txt", "Upload a .csv or .jsonl file"),
    (b"text,answer\n" + b"x" * (1024 * 1024) + b",cat\n", "big.csv", "over 1024 KB"),
    (b"text,answer\n" + b"Meows,cat\n" * 501, "long.csv", "over 500 questions"),
    (b"\xff\xfe\x00t", "utf16.csv", "not UTF-8"),
])
def test_a_bad_upload_is_refused_with_one_clear_error_and_nothing_is_saved(
    alice: User, acme_skill: Qualification, content: bytes, name: str, reason: str
) -> None:
    response = upload(browser(alice), acme_skill, content, name)
    assert response.status_code == 400
    assert reason in response.content.decode() and "Nothing was added" in response.content.decode()
    assert not ExamQuestion.objects.exists()


def test_a_jobs_gold_becomes_exam_questions_and_practice_items(alice: User, acme_skill: Qualification) -> None:
    job = open_job_with_items(items=1, gold=2, gold_label="dog", organization=alice.organization, publish=False)
    GoldAnswer.objects.filter(item__job=job).update(explanation="Floppy ears.")
    client = browser(alice)
    page = client.get(reverse("client-qualification", args=[acme_skill.pk])).content.decode()
    assert f"{job.title} (2 gold)" in page
    add(client, acme_skill, "exam", "gold", {"exam-gold-job": str(job.pk)})
    add(client, acme_skill, "training", "gold", {"training-gold-job": str(job.pk)})
    assert list(ExamQuestion.objects.values_list("data", "answer")) == [
        ({"text": "gold 0"}, "dog"), ({"text": "gold 1"}, "dog")]
    assert list(TrainingItem.objects.values_list("answer", "explanation")) == [("dog", "Floppy ears.")] * 2


def test_gold_whose_labels_the_qualification_lacks_is_refused(alice: User) -> None:
    skill = qualification_create(user=alice, name="Two labels", exam_labels=["cat", "dog"])
    job = open_job_with_items(items=1, gold=1, gold_label="bird", organization=alice.organization, publish=False)
    response = browser(alice).post(reverse("client-qualification-add", args=[skill.pk, "exam", "gold"]),
                                   {"exam-gold-job": str(job.pk)})
    assert response.status_code == 400 and "bird" in response.content.decode()
    assert not ExamQuestion.objects.exists()


def test_a_question_is_removed(alice: User, acme_skill: Qualification, carol: User) -> None:
    client = browser(alice)
    add(client, acme_skill, "exam", "typed", {"exam-typed-text": "Tweets", "exam-typed-answer": "bird"})
    question = ExamQuestion.objects.get()
    remove = reverse("client-qualification-remove", args=[acme_skill.pk, "exam", question.pk])
    assert browser(carol).post(remove).status_code == 404 and ExamQuestion.objects.exists()
    assert client.post(remove).status_code == 302 and not ExamQuestion.objects.exists()
