"""The Django admin pages for accounts open, and the user form respects the role/organization rule."""

from __future__ import annotations

import pytest
from django.test import Client

from marketplace.accounts.models import ApiToken, ExamAttempt, Organization, Qualification, User
from marketplace.accounts.qualifications import exam_questions_add, exam_submit, qualification_create
from marketplace.accounts.services import token_create
from tests.factories import PASSWORD, THREE_LABELS

pytestmark = pytest.mark.django_db
MODELS = ["user", "organization", "apitoken", "qualification", "workerqualification", "examattempt"]


@pytest.fixture
def some_of_everything(ada: User, alice: User, wendy: User) -> Qualification:
    qualification = qualification_create(user=ada, name="Animals", exam_labels=THREE_LABELS)
    exam_questions_add(user=ada, qualification=qualification, questions=[{"data": {"t": 1}, "answer": "cat"}])
    question = qualification.questions.get()
    exam_submit(worker=wendy, qualification=qualification, answers={str(question.pk): "dog"})
    token_create(user=alice, name="ci")
    return qualification


@pytest.mark.parametrize("model", MODELS)
def test_every_accounts_changelist_opens(root: Client, some_of_everything: Qualification, model: str) -> None:
    assert root.get(f"/admin/accounts/{model}/").status_code == 200


def test_a_qualification_page_lists_its_exam_questions(root: Client, some_of_everything: Qualification) -> None:
    page = root.get(f"/admin/accounts/qualification/{some_of_everything.pk}/change/")

    assert page.status_code == 200 and "Exam questions" in page.content.decode()


def test_tokens_and_exam_attempts_are_read_only(root: Client, some_of_everything: Qualification) -> None:
    token = ApiToken.objects.get(name="ci")
    attempt = ExamAttempt.objects.get()

    assert root.get("/admin/accounts/apitoken/add/").status_code == 403
    assert root.get("/admin/accounts/examattempt/add/").status_code == 403
    page = root.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert token.key_hash not in page
    assert root.get(f"/admin/accounts/examattempt/{attempt.pk}/change/").status_code == 200


def test_the_user_form_refuses_a_client_without_an_organization(root: Client) -> None:
    form = {"username": "cleo", "password1": PASSWORD, "password2": PASSWORD, "role": "client",
            "usable_password": "true"}

    refused = root.post("/admin/accounts/user/add/", form)
    acme = Organization.objects.create(name="Acme", slug="acme")
    accepted = root.post("/admin/accounts/user/add/", {**form, "organization": acme.pk})

    assert refused.status_code == 200 and not User.objects.filter(username="cleo", organization=None).exists()
    assert accepted.status_code == 302
    assert User.objects.get(username="cleo").organization == acme


def test_the_qualification_form_checks_exam_labels(root: Client) -> None:
    form = {"name": "Bad", "slug": "bad", "exam_labels": '["only-one"]', "pass_mark": "0.8",
            "retry_cooldown_seconds": "60", "questions-TOTAL_FORMS": "0", "questions-INITIAL_FORMS": "0"}

    page = root.post("/admin/accounts/qualification/add/", form)

    assert page.status_code == 200 and "2 to 50 labels" in page.content.decode()
    assert not Qualification.objects.exists()
