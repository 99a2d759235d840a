"""Taking a qualification's exam: scoring, instant grants, the retry cooldown, and secrecy.

Ada (admin) runs a platform-wide exam of five questions with pass mark 0.8; Wendy takes it.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from marketplace.accounts.models import ExamAttempt, Qualification, User, WorkerQualification
from marketplace.accounts.qualifications import (
    exam_questions_add,
    exam_submit,
    qualification_create,
    qualification_grant,
)
from marketplace.errors import Conflict
from tests.accounts.helpers import assert_error, without_labels
from tests.conftest import needs_postgres
from tests.factories import THREE_LABELS, WorkerFactory

KEY = ["cat", "dog", "bird", "cat", "dog"]
SECRET = "zebra-7f3a9c"  # an answer key that appears in no question's data
RACERS = 4  # threads submitting at once in the PostgreSQL race tests


def make_exam(admin: User, key: list[str] = KEY, labels: list[Any] = THREE_LABELS) -> Qualification:
    qualification = qualification_create(
        user=admin, name="Animals", exam_labels=labels, pass_mark="0.8", retry_cooldown_seconds=3600
    )
    exam_questions_add(
        user=admin,
        qualification=qualification,
        questions=[{"data": {"text": f"picture {i}"}, "answer": a} for i, a in enumerate(key)],
    )
    return qualification


def answers_for(qualification: Qualification, right: int, wrong: str = "bird") -> dict[str, str]:
    """The first `right` questions answered correctly, the rest with `wrong` (or left out if "")."""
    out: dict[str, str] = {}
    for n, question in enumerate(qualification.questions.order_by("id")):
        if n < right:
            out[str(question.pk)] = question.answer
        elif wrong:
            out[str(question.pk)] = wrong if question.answer != wrong else "cat"
    return out


@pytest.fixture
def exam(ada: User) -> Qualification:
    return make_exam(ada)


def url(qualification: Qualification) -> str:
    return f"/api/v1/qualifications/{qualification.pk}/exam/"


def submit(client: APIClient, exam: Qualification, answers: dict[str, str]) -> Any:
    return client.post(url(exam), {"answers": answers}, format="json")


@pytest.mark.django_db
def test_passing_grants_the_qualification_at_once(wendy: User, exam: Qualification, client_for: Any) -> None:
    client = client_for(wendy)

    response = submit(client, exam, answers_for(exam, right=5))

    assert response.status_code == 201
    assert response.json() == {"score": "1.0000", "passed": True, "retry_after": None}
    grant = WorkerQualification.objects.get(worker=wendy, qualification=exam)
    assert grant.score == Decimal("1") and grant.source == "exam"
    assert client.get("/api/v1/me/qualifications/").json()["results"][0]["score"] == "1.0000"


@pytest.mark.django_db
def test_the_score_is_the_share_right_so_four_of_five_reach_a_pass_mark_of_80_percent(
    wendy: User, walter: User, exam: Qualification, client_for: Any
) -> None:
    four_of_five = submit(client_for(wendy), exam, answers_for(exam, 4))
    three_of_five = submit(client_for(walter), exam, answers_for(exam, 3))

    assert four_of_five.json()["score"] == "0.8000" and four_of_five.json()["passed"] is True
    assert three_of_five.json()["score"] == "0.6000" and three_of_five.json()["passed"] is False
    assert list(WorkerQualification.objects.values_list("worker__username", flat=True)) == ["wendy"]


@pytest.mark.django_db
def test_an_exam_with_a_question_unanswered_is_refused_and_costs_no_attempt_nor_a_wait(
    wendy: User, exam: Qualification, client_for: Any
) -> None:
    client = client_for(wendy)
    ids = list(exam.questions.order_by("id").values_list("pk", flat=True))
    left_out = answers_for(exam, 3, wrong="")  # questions 4 and 5 not sent
    sent_as_null: dict[str, Any] = {**answers_for(exam, 5), str(ids[1]): None}

    for answers, named, missing in ((left_out, "questions 4 and 5 have", ids[3:]),
                                    (sent_as_null, "question 2 has", [ids[1]])):
        error = assert_error(submit(client, exam, answers), 400, "invalid")
        assert error["message"] == f"Answer every question before you submit: {named} no answer yet."
        assert error["details"]["unanswered_questions"] == missing

    assert not ExamAttempt.objects.exists()
    assert client.get(url(exam)).json()["may_take"] is True  # no cooldown started
    assert submit(client, exam, answers_for(exam, 5)).json()["passed"] is True


@pytest.mark.django_db
def test_an_answer_to_a_question_not_in_the_exam_is_refused(
    ada: User, wendy: User, exam: Qualification, client_for: Any
) -> None:
    foreign_id = str(make_exam(ada).questions.values_list("pk", flat=True)[0])
    answers = {**answers_for(exam, 5), foreign_id: "cat"}

    error = assert_error(submit(client_for(wendy), exam, answers), 400, "invalid")

    assert error["details"]["unknown_questions"] == [foreign_id]
    assert not ExamAttempt.objects.exists()


@pytest.mark.django_db
def test_an_answer_that_is_not_one_of_the_labels_is_refused(
    wendy: User, exam: Qualification, client_for: Any
) -> None:
    assert_error(submit(client_for(wendy), exam, answers_for(exam, 4, wrong="horse")), 400, "invalid")
    assert not ExamAttempt.objects.exists()


@pytest.mark.django_db
def test_after_failing_a_retry_waits_for_the_cooldown(
    wendy: User, exam: Qualification, client_for: Any
) -> None:
    client = client_for(wendy)
    failed = submit(client, exam, answers_for(exam, 1)).json()
    assert failed["passed"] is False and failed["retry_after"] is not None

    too_soon = assert_error(submit(client, exam, answers_for(exam, 5)), 409, "conflict")
    assert "retry after" in too_soon["message"]
    assert too_soon["details"]["retry_after"] == failed["retry_after"]  # one form for times across the API
    status = client.get(url(exam)).json()
    assert status["may_take"] is False and status["retry_after"] == failed["retry_after"]

    an_hour_earlier = ExamAttempt.objects.get().submitted_at - timedelta(hours=1)
    ExamAttempt.objects.filter(worker=wendy).update(submitted_at=an_hour_earlier)

    passed = submit(client, exam, answers_for(exam, 5))
    assert passed.status_code == 201 and passed.json()["passed"] is True
    assert ExamAttempt.objects.filter(worker=wendy).count() == 2


@pytest.mark.django_db
def test_a_qualification_without_questions_has_no_exam(
    ada: User, wendy: User, client_for: Any
) -> None:
    handed_out = qualification_create(user=ada, name="Veteran", exam_labels=["a", "b"])
    qualification_grant(admin=ada, worker=wendy, qualification=handed_out, score="1")
    client = client_for(wendy)

    assert "no exam" in assert_error(client.get(url(handed_out)), 409, "conflict")["message"]
    assert_error(client.post(url(handed_out), {"answers": {}}, format="json"), 409, "conflict")


@pytest.mark.django_db
def test_passing_rescores_a_qualification_granted_by_hand_and_failing_never_revokes_it(
    ada: User, wendy: User, exam: Qualification
) -> None:
    qualification_grant(admin=ada, worker=wendy, qualification=exam, score="0.5")

    exam_submit(worker=wendy, qualification=exam, answers=answers_for(exam, 5))
    grant = WorkerQualification.objects.get(worker=wendy)
    assert (grant.score, grant.source) == (Decimal("1"), "exam")

    exam_submit(worker=wendy, qualification=exam, answers=answers_for(exam, 0))
    assert WorkerQualification.objects.get(worker=wendy).score == Decimal("1")


@pytest.mark.django_db
def test_exam_answers_never_reach_a_worker(ada: User, wendy: User, client_for: Any) -> None:
    labels = [*THREE_LABELS, {"key": SECRET, "name": "Zebra"}]
    exam = make_exam(ada, key=[SECRET] * 5, labels=labels)
    client = client_for(wendy)

    payloads = [
        client.get("/api/v1/qualifications/").json(),
        client.get(f"/api/v1/qualifications/{exam.pk}/").json(),
        client.get(url(exam)).json(),
        submit(client, exam, answers_for(exam, 5)).json(),
        client.get(url(exam)).json(),
        client.get("/api/v1/me/qualifications/").json(),
    ]

    first_question = exam.questions.order_by("id").values("id", "data")[0]
    assert payloads[2]["questions"][0] == {**first_question, "data": {"text": "picture 0"}}
    for payload in payloads:
        text = without_labels(payload)
        assert SECRET not in text and '"answer"' not in text, text


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_failing_submits_racing_record_one_attempt_and_the_rest_wait_for_the_cooldown(
    ada: User,
) -> None:
    exam = make_exam(ada)
    worker = WorkerFactory(username="racer")
    outcomes: list[str] = []
    barrier = threading.Barrier(RACERS)

    def submit() -> None:
        try:
            barrier.wait()
            exam_submit(worker=worker, qualification=exam, answers=answers_for(exam, 0))
            outcomes.append("scored")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["conflict"] * (RACERS - 1) + ["scored"]
    assert ExamAttempt.objects.filter(worker=worker).count() == 1


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_passing_submits_racing_leave_one_grant_and_no_error(ada: User) -> None:
    exam = make_exam(ada)
    worker = WorkerFactory(username="racer")
    outcomes: list[str] = []
    barrier = threading.Barrier(RACERS)

    def submit() -> None:
        try:
            barrier.wait()
            attempt = exam_submit(worker=worker, qualification=exam, answers=answers_for(exam, 5))
            outcomes.append(str(attempt.passed))
        except Exception as exc:  # noqa: BLE001 - the test reports any failure as an outcome
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == ["True"] * RACERS
    assert WorkerQualification.objects.filter(worker=worker).count() == 1
