"""A worker's training and exam pages: practice answers explained after answering, never before;
exam answers never on the page; the cooldown told as "you can retry at HH:MM".

Ada (admin) writes a platform-wide qualification with a three-question exam and two practice
items; Wendy practises and takes the exam.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace.accounts.models import ExamAttempt, Qualification, User
from marketplace.accounts.qualifications import exam_questions_add, qualification_create
from marketplace.accounts.training import training_items_add
from marketplace.errors import ApplicationError
from tests.factories import THREE_LABELS
from tests.portal import browser

pytestmark = pytest.mark.django_db

SECRET_WHY = "whiskers-7f3a"  # an explanation no page may show before the answer



@pytest.fixture
def skill(ada: User) -> Qualification:
    skill = qualification_create(user=ada, name="Animals", exam_labels=THREE_LABELS, pass_mark="1",
                                 retry_cooldown_seconds=600)
    exam_questions_add(user=ada, qualification=skill, questions=[
        {"data": {"text": "Meows"}, "answer": "cat"}, {"data": {"text": "Barks"}, "answer": "dog"},
        {"data": {"text": "Sings"}, "answer": "bird"}])
    training_items_add(user=ada, qualification=skill, items=[
        {"data": {"text": "Purrs"}, "answer": "cat", "explanation": SECRET_WHY},
        {"data": {"text": "Fetches"}, "answer": "dog", "explanation": "Dogs fetch."}])
    return skill


def training_url(skill: Qualification) -> str:
    return reverse("work-training", args=[skill.pk])


def test_the_practice_item_shows_no_answer_until_the_worker_answers(wendy: User, skill: Qualification) -> None:
    page = browser(wendy).get(training_url(skill)).content.decode()
    assert "Purrs" in page and SECRET_WHY not in page and "right answer" not in page
    assert 'data-hotkeys="1 c"' in page  # number keys pick labels, the label's shortcut too


def test_after_a_wrong_practice_answer_the_page_shows_the_right_one_and_why(wendy: User,
                                                                            skill: Qualification) -> None:
    page = browser(wendy).post(training_url(skill), {"n": "0", "label": "dog"}).content.decode()
    assert "Not quite" in page and "the right answer is <strong>Cat</strong>" in page and SECRET_WHY in page
    assert f'href="{training_url(skill)}?n=1"' in page


def test_a_right_practice_answer_is_confirmed_and_the_last_item_leads_to_the_exam(wendy: User,
                                                                                   skill: Qualification) -> None:
    page = browser(wendy).post(training_url(skill), {"n": "1", "label": "dog"}).content.decode()
    assert "Right:" in page and "Dogs fetch." in page
    assert reverse("work-exam", args=[skill.pk]) in page and "take the exam" in page


def test_training_is_not_scored(wendy: User, skill: Qualification) -> None:
    browser(wendy).post(training_url(skill), {"n": "0", "label": "bird"})
    assert not ExamAttempt.objects.exists() and not wendy.qualifications.exists()


def test_a_label_outside_the_set_is_a_400(wendy: User, skill: Qualification) -> None:
    response = browser(wendy).post(training_url(skill), {"n": "0", "label": "horse"})
    assert response.status_code == 400 and SECRET_WHY not in response.content.decode()


def test_clients_get_404_and_a_qualification_without_training_has_no_training_page(
    alice: User, wendy: User, ada: User
) -> None:
    bare = qualification_create(user=ada, name="Bare", exam_labels=THREE_LABELS)
    exam_questions_add(user=ada, qualification=bare, questions=[{"data": {"text": "q"}, "answer": "cat"}])
    assert browser(wendy).get(training_url(bare)).status_code == 404
    assert browser(alice).get(training_url(bare)).status_code == 404


def test_the_exam_page_never_holds_an_answer_and_offers_training(wendy: User, skill: Qualification) -> None:
    page = browser(wendy).get(reverse("work-exam", args=[skill.pk])).content.decode()
    assert "Practise first" in page and "2 practice items" in page
    assert 'value="cat" data-hotkeys="1 c"' in page and "checked" not in page
    for text in ("Meows", "Barks", "Sings"):
        assert text in page
    assert SECRET_WHY not in page


def test_after_a_failed_attempt_the_page_says_when_to_retry(wendy: User, skill: Qualification) -> None:
    client = browser(wendy)
    questions = list(skill.questions.order_by("id"))
    response = client.post(reverse("work-exam", args=[skill.pk]),
                           {f"q{q.pk}": "cat" for q in questions}, follow=True)
    attempt = ExamAttempt.objects.get()
    retry_at = timezone.localtime(attempt.submitted_at) + timezone.timedelta(seconds=600)
    page = response.content.decode()
    assert "Not this time: 1 of 3 right (33.3%); the pass mark is 100%." in page
    assert f"You can retry at <time datetime=\"{retry_at.isoformat()}\">{retry_at:%H:%M}</time>" in page
    assert "Submit answers" not in page  # no form until the cooldown ends
    again = client.post(reverse("work-exam", args=[skill.pk]), {f"q{q.pk}": q.answer for q in questions})
    assert again.status_code == 400 and ExamAttempt.objects.count() == 1


def test_a_practice_item_answering_with_a_label_outside_the_set_is_refused_by_the_service(
    ada: User, skill: Qualification
) -> None:
    with pytest.raises(ApplicationError, match="must be one of the labels"):
        training_items_add(user=ada, qualification=skill, items=[
            {"data": {"text": "ok"}, "answer": "cat"}, {"data": {"text": "bad"}, "answer": "horse"}])
    assert skill.training_items.count() == 2
