"""Qualifications: who creates them, who sees them, who adds questions, who grants by hand.

Acme (Alice, Bob) owns a private qualification; Carol of Globex must not even see it.
Ada the admin owns the platform-wide ones; Wendy is a worker.
"""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.accounts.models import ExamQuestion, Qualification, User, WorkerQualification
from marketplace.accounts.qualifications import exam_questions_add, qualification_create
from tests.accounts.helpers import assert_error
from tests.factories import THREE_LABELS

pytestmark = pytest.mark.django_db
QUALS = "/api/v1/qualifications/"


@pytest.fixture
def acme_private(alice: User) -> Qualification:
    return qualification_create(user=alice, name="Acme radiology", exam_labels=THREE_LABELS)


@pytest.fixture
def platform(ada: User) -> Qualification:
    return qualification_create(user=ada, name="English", exam_labels=THREE_LABELS)


def questions(*answers: str) -> list[dict[str, Any]]:
    return [{"data": {"text": f"question {i}"}, "answer": a} for i, a in enumerate(answers)]


def test_an_admin_creates_a_platform_wide_qualification(ada: User, client_for: Any) -> None:
    response = client_for(ada).post(
        QUALS, {"name": "Medical imaging", "exam_labels": ["yes", "no"], "pass_mark": "0.9"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["owner"] is None and body["slug"] == "medical-imaging"
    assert body["pass_mark"] == "0.9000" and body["has_exam"] is False
    assert [label["key"] for label in body["exam_labels"]] == ["yes", "no"]


def test_a_clients_qualification_belongs_to_its_organization(alice: User, client_for: Any) -> None:
    response = client_for(alice).post(QUALS, {"name": "Acme style guide"}, format="json")

    assert response.status_code == 201
    assert response.json()["owner"]["slug"] == "acme"
    assert Qualification.objects.get(pk=response.json()["id"]).owner_id == alice.organization_id


def test_a_worker_cannot_create_a_qualification(wendy: User, client_for: Any) -> None:
    assert_error(client_for(wendy).post(QUALS, {"name": "Me"}, format="json"), 403, "permission_denied")


def test_exam_labels_need_two_to_fifty_distinct_keys(ada: User, client_for: Any) -> None:
    client = client_for(ada)

    one = client.post(QUALS, {"name": "One", "exam_labels": ["only"]}, format="json")
    twice = client.post(QUALS, {"name": "Twice", "exam_labels": ["a", "a"]}, format="json")
    fifty_one = [f"k{i}" for i in range(51)]
    too_many = client.post(QUALS, {"name": "Many", "exam_labels": fifty_one}, format="json")

    assert "2 to 50" in assert_error(one, 400, "invalid")["message"]
    assert "appears twice" in assert_error(twice, 400, "invalid")["message"]
    assert_error(too_many, 400, "invalid")
    assert not Qualification.objects.exists()


def test_a_taken_slug_is_a_conflict_but_a_derived_one_is_made_unique(ada: User, client_for: Any) -> None:
    client = client_for(ada)
    client.post(QUALS, {"name": "English", "slug": "english"}, format="json")

    assert_error(client.post(QUALS, {"name": "Other", "slug": "english"}, format="json"), 409, "conflict")
    assert client.post(QUALS, {"name": "English"}, format="json").json()["slug"] == "english-2"


def test_carol_cannot_see_acmes_private_qualification(
    carol: User, acme_private: Qualification, platform: Qualification, client_for: Any
) -> None:
    client = client_for(carol)

    assert_error(client.get(f"{QUALS}{acme_private.pk}/"), 404, "not_found")
    assert [q["name"] for q in client.get(QUALS).json()["results"]] == ["English"]
    post = client.post(f"{QUALS}{acme_private.pk}/questions/", {"questions": questions("cat")}, format="json")
    assert_error(post, 404, "not_found")


def test_bob_sees_his_organizations_qualification_and_platform_ones(
    bob: User, acme_private: Qualification, platform: Qualification, client_for: Any
) -> None:
    body = client_for(bob).get(QUALS).json()

    assert body["count"] == 2
    assert {q["name"] for q in body["results"]} == {"Acme radiology", "English"}


def test_a_worker_sees_qualifications_with_an_exam_or_that_they_hold(
    ada: User, wendy: User, acme_private: Qualification, platform: Qualification, client_for: Any
) -> None:
    exam_questions_add(user=ada, qualification=acme_private, questions=questions("cat", "dog"))
    handed_out = qualification_create(user=ada, name="Veteran")
    qualification_create(user=ada, name="Invisible")
    WorkerQualification.objects.create(worker=wendy, qualification=handed_out, score=1, source="admin")

    names = [q["name"] for q in client_for(wendy).get(QUALS).json()["results"]]

    assert names == ["Acme radiology", "Veteran"]
    assert_error(client_for(wendy).get(f"{QUALS}{platform.pk}/"), 404, "not_found")


def test_the_owning_client_adds_exam_questions(
    bob: User, acme_private: Qualification, client_for: Any
) -> None:
    response = client_for(bob).post(
        f"{QUALS}{acme_private.pk}/questions/", {"questions": questions("cat", "dog", "bird")}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["created"] == 3 and response.json()["question_count"] == 3
    assert list(acme_private.questions.values_list("answer", flat=True)) == ["cat", "dog", "bird"]


def test_an_answer_outside_the_exam_labels_adds_nothing(
    alice: User, acme_private: Qualification, client_for: Any
) -> None:
    response = client_for(alice).post(
        f"{QUALS}{acme_private.pk}/questions/", {"questions": questions("cat", "horse")}, format="json"
    )

    assert "questions[2].answer" in assert_error(response, 400, "invalid")["message"]
    assert not ExamQuestion.objects.exists()


def test_a_client_cannot_change_a_platform_wide_exam(
    alice: User, platform: Qualification, client_for: Any
) -> None:
    response = client_for(alice).post(
        f"{QUALS}{platform.pk}/questions/", {"questions": questions("cat")}, format="json"
    )

    assert_error(response, 403, "permission_denied")


def test_only_an_admin_grants_and_revokes_by_hand(
    ada: User, alice: User, wendy: User, platform: Qualification, client_for: Any
) -> None:
    grants = f"{QUALS}{platform.pk}/grants/"
    payload = {"worker": wendy.pk, "score": "0.9"}

    assert_error(client_for(wendy).post(grants, payload, format="json"), 403, "permission_denied")
    assert_error(client_for(alice).post(grants, payload, format="json"), 403, "permission_denied")
    assert not WorkerQualification.objects.exists()

    granted = client_for(ada).post(grants, payload, format="json")
    assert granted.status_code == 201 and granted.json()["score"] == "0.9000"
    held = client_for(wendy).get("/api/v1/me/qualifications/").json()["results"]
    assert [(h["qualification"]["name"], h["score"], h["source"]) for h in held] == [
        ("English", "0.9000", "admin")
    ]

    assert_error(client_for(alice).delete(f"{grants}{wendy.pk}/"), 403, "permission_denied")
    assert client_for(ada).delete(f"{grants}{wendy.pk}/").status_code == 204
    assert not WorkerQualification.objects.exists()
    assert_error(client_for(ada).delete(f"{grants}{wendy.pk}/"), 404, "not_found")


def test_granting_again_changes_the_score(
    ada: User, wendy: User, platform: Qualification, client_for: Any
) -> None:
    grants = f"{QUALS}{platform.pk}/grants/"
    client_for(ada).post(grants, {"worker": wendy.pk, "score": "0.5"}, format="json")
    client_for(ada).post(grants, {"worker": wendy.pk, "score": "0.75"}, format="json")

    assert str(WorkerQualification.objects.get(worker=wendy).score) == "0.7500"


def test_only_workers_hold_qualifications_and_scores_stay_within_0_and_1(
    ada: User, alice: User, wendy: User, platform: Qualification, client_for: Any
) -> None:
    grants = f"{QUALS}{platform.pk}/grants/"
    client = client_for(ada)

    assert_error(client.post(grants, {"worker": alice.pk, "score": "1"}, format="json"), 404, "not_found")
    assert_error(client.post(grants, {"worker": wendy.pk, "score": "1.5"}, format="json"), 400, "invalid")
    assert not WorkerQualification.objects.exists()


def test_a_client_has_no_qualifications_of_its_own(alice: User, client_for: Any) -> None:
    assert_error(client_for(alice).get("/api/v1/me/qualifications/"), 403, "permission_denied")


def test_a_misspelled_field_is_refused_rather_than_ignored(ada: User, client_for: Any) -> None:
    response = client_for(ada).post(QUALS, {"name": "Strict", "pass_marks": "0.99"}, format="json")

    details = assert_error(response, 400, "invalid")["details"]
    assert details["unknown_fields"] == ["pass_marks"] and "pass_mark" in details["allowed"]
    assert not Qualification.objects.exists()


def test_listing_qualifications_costs_the_same_queries_for_three_or_thirty(
    ada: User, alice: User, client_for: Any, django_assert_max_num_queries: Any
) -> None:
    client = client_for(alice)

    def make(n: int) -> None:
        for i in range(n):
            q = qualification_create(user=alice, name=f"Skill {i}", exam_labels=["a", "b"])
            exam_questions_add(user=ada, qualification=q, questions=[{"data": {"i": i}, "answer": "a"}])

    make(3)
    with django_assert_max_num_queries(50) as few:
        client.get(QUALS)
    Qualification.objects.all().delete()
    make(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(QUALS).json()["count"] == 30
