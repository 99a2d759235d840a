"""Worker portal pages: the work list, the labeling page and its JSON calls, exams.

The cast (tests/conftest.py): Wendy and Walter are workers; Alice is a client of Acme; Ada is an
admin. Wendy labels; Walter must never touch Wendy's lease; Alice and Ada must not even learn
that worker pages exist (404).
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import ExamAttempt, Qualification, User, WorkerQualification
from marketplace.accounts.qualifications import exam_questions_add, qualification_create
from marketplace.jobs.models import GoldAnswer, Job, JobQualification
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.labeling.models import Judgment, Lease, LeaseStatus
from marketplace.labeling.services import lease_claim
from marketplace.web.worker.items import item_parts
from marketplace.web.worker.labeling import label_keys, pay_text
from tests.factories import THREE_LABELS, JobFactory, open_job_with_items, publish_funded
from tests.labeling.helpers import held_for, post_json, signed_in

pytestmark = pytest.mark.django_db

XSS_TEXT = '<script>window.pwned=1</script><img src=x onerror=alert(1)>'
GOLD_SECRET = "zebra-gold-7f3a"  # the gold item's right label; no worker page may contain it


@pytest.fixture
def job() -> Job:
    return open_job_with_items(items=5, title="Animals in photos")


# --- who may open what


@pytest.mark.parametrize("name,args", [
    ("work-list", []), ("work-label-any", []), ("work-label", ["job"]),
])
def test_clients_and_admins_get_404_on_worker_pages(
    name: str, args: list[str], job: Job, alice: User, ada: User
) -> None:
    url = reverse(name, args=[job.pk for _ in args])
    for user in (alice, ada):
        assert signed_in(user).get(url).status_code == 404


def test_an_anonymous_visitor_is_sent_to_log_in(job: Job) -> None:
    response = Client().get(reverse("work-label", args=[job.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_client_cannot_call_the_labeling_json(job: Job, alice: User) -> None:
    assert post_json(signed_in(alice), reverse("work-label-next", args=[job.pk])).status_code == 404


def test_every_worker_page_answers_by_role_before_the_method(job: Job, wendy: User, alice: User, ada: User) -> None:
    """A wrong method tells nobody but a worker that the page exists: a visitor is sent to log
    in, a client or admin gets 404 whatever the method, only a worker learns the method is wrong."""
    lease = lease_claim(worker=wendy, job=job)
    gets = [reverse("work-list"), reverse("work-label-any"), reverse("work-label", args=[job.pk])]
    posts = [reverse("work-label-next", args=[job.pk]), reverse("work-label-answer", args=[lease.pk]),
             reverse("work-label-skip", args=[lease.pk])]
    for url in gets + posts:
        for response in (Client().get(url), Client().post(url)):
            assert response.status_code == 302 and response["Location"].startswith("/login/?next="), url
    for user in (alice, ada):
        client = Client()  # no CSRF check here: the method alone is under test
        client.force_login(user)
        for url in gets:
            assert client.post(url).status_code == 404, url
        for url in posts:
            assert client.get(url).status_code == 404, url
    client = Client()
    client.force_login(wendy)
    for url in gets:
        assert client.post(url).status_code == 405, url
    for url in posts:
        assert client.get(url).status_code == 405, url
    lease.refresh_from_db()
    assert lease.status == LeaseStatus.ACTIVE


# --- the work list


def test_the_work_list_shows_pay_expected_time_and_items_left(job: Job, wendy: User, walter: User) -> None:
    lease = lease_claim(worker=walter, job=job)
    held_for(lease, 13)
    post_json(signed_in(walter), reverse("work-label-answer", args=[lease.pk]),
              {"label": "cat", "seconds_spent": "12.5"})
    html = signed_in(wendy).get(reverse("work-list")).content.decode()
    assert "Animals in photos" in html
    assert "$0.02" in html and "12 s" in html  # pay per answer; median answer time
    assert 'data-live-socket="/ws/worker/"' in html
    assert reverse("work-label", args=[job.pk]) in html


def test_a_job_behind_an_exam_links_to_the_exam_and_not_to_labeling(wendy: User, ada: User) -> None:
    gated = open_job_with_items(items=3, title="Birds, experts only")
    skill = qualification_create(user=ada, name="Ornithology", exam_labels=THREE_LABELS)
    exam_questions_add(user=ada, qualification=skill, questions=[{"data": {"text": "q"}, "answer": "bird"}])
    JobQualification.objects.create(job=gated, qualification=skill, min_score=Decimal("0.8"))
    html = signed_in(wendy).get(reverse("work-list")).content.decode()
    assert "Birds, experts only" in html
    assert reverse("work-exam", args=[skill.pk]) in html
    assert reverse("work-label", args=[gated.pk]) not in html


def test_a_link_to_a_job_behind_an_exam_says_which_qualification_it_needs_and_links_its_exam(
    wendy: User, ada: User
) -> None:
    gated = open_job_with_items(items=3, title="Birds, experts only")
    skill = qualification_create(user=ada, name="Ornithology", exam_labels=THREE_LABELS)
    exam_questions_add(user=ada, qualification=skill, questions=[{"data": {"text": "q"}, "answer": "bird"}])
    JobQualification.objects.create(job=gated, qualification=skill, min_score=Decimal("0.8"))
    bare = qualification_create(user=ada, name="Field trip", exam_labels=[])
    JobQualification.objects.create(job=gated, qualification=bare, min_score=Decimal("0.5"))

    response = signed_in(wendy).get(reverse("work-label", args=[gated.pk]))

    html = response.content.decode()
    assert response.status_code == 403 and "No such job" not in html
    assert "Birds, experts only" in html and "needs qualifications you do not hold yet" in html
    assert "Ornithology</strong>" in html and "(score 80% or more)" in html
    assert f'href="{reverse("work-exam", args=[skill.pk])}">take the Ornithology exam' in html
    assert "Field trip</strong>" in html and "it has no exam to take" in html
    assert "js/label.js" not in html  # not the labeling page itself
    # Once qualified, the same link is the labeling page.
    WorkerQualification.objects.create(worker=wendy, qualification=skill, score=Decimal("1"))
    WorkerQualification.objects.create(worker=wendy, qualification=bare, score=Decimal("1"))
    assert "js/label.js" in signed_in(wendy).get(reverse("work-label", args=[gated.pk])).content.decode()


def test_a_draft_job_is_neither_listed_nor_labelable(wendy: User) -> None:
    draft = open_job_with_items(items=2, title="Secret draft", publish=False)
    client = signed_in(wendy)
    assert "Secret draft" not in client.get(reverse("work-list")).content.decode()
    assert client.get(reverse("work-label", args=[draft.pk])).status_code == 404


# --- the labeling page


def test_the_labeling_page_shows_labels_with_their_keys_and_the_instructions(job: Job, wendy: User) -> None:
    html = signed_in(wendy).get(reverse("work-label", args=[job.pk])).content.decode()
    assert 'aria-keyshortcuts="c"' in html and 'aria-keyshortcuts="d"' in html
    assert "Pick the animal in the picture." in html
    assert 'aria-live="polite"' in html
    assert "js/label.js" in html


@pytest.mark.parametrize("overlap,offered", [(3, True), (1, False)])
def test_undo_is_offered_only_where_an_answer_can_be_undone(wendy: User, overlap: int, offered: bool) -> None:
    # With one judgment per item every answer completes its item, and undo would always fail.
    job = open_job_with_items(items=3, overlap=overlap)
    html = signed_in(wendy).get(reverse("work-label", args=[job.pk])).content.decode()
    assert (f'data-undo-seconds="{settings.QUORUM_UNDO_SECONDS}"' in html) is offered
    assert ("Undo your last answer" in html) is offered


def test_labels_without_shortcuts_get_free_digits() -> None:
    job = Job(labels=[{"key": "a", "shortcut": "1"}, {"key": "b"}, {"key": "c", "name": "C"}])
    assert [label["hotkey"] for label in label_keys(job)] == ["1", "2", "3"]


def test_pay_keeps_the_places_that_matter() -> None:
    assert pay_text(Decimal("0.0200")) == "$0.02"
    assert pay_text(Decimal("0.0125")) == "$0.0125"
    assert pay_text(Decimal("1")) == "$1.00"


def test_next_answer_and_skip_each_take_one_round_trip(job: Job, wendy: User) -> None:
    client = signed_in(wendy)
    first = post_json(client, reverse("work-label-next", args=[job.pk])).json()["next"]
    assert set(first) == {"lease", "job", "seconds_left", "item"}
    assert set(first["item"]) == {"data"}  # never the item's id
    assert 590 <= first["seconds_left"] <= 600
    # A reload gives the same lease, not a second slot.
    assert post_json(client, reverse("work-label-next", args=[job.pk])).json()["next"]["lease"] == first["lease"]

    held_for(first["lease"], 4)
    answered = post_json(client, reverse("work-label-answer", args=[first["lease"]]),
                         {"label": "dog", "seconds_spent": "3.250"})
    assert answered.status_code == 200
    body = answered.json()
    assert body["submitted"]["label"] == "dog" and body["submitted"]["feedback"] is None
    second = body["next"]
    assert second["item"] != first["item"]
    judgment = Judgment.objects.get(worker=wendy)
    assert judgment.label == "dog" and judgment.seconds_spent == Decimal("3.250")

    skipped = post_json(client, reverse("work-label-skip", args=[second["lease"]])).json()
    assert Lease.objects.get(pk=second["lease"]).status == LeaseStatus.RELEASED
    assert skipped["next"]["item"] not in (first["item"], second["item"])


def test_the_last_item_answers_with_no_next_and_says_why(wendy: User) -> None:
    job = open_job_with_items(items=1)
    client = signed_in(wendy)
    lease = post_json(client, reverse("work-label-next", args=[job.pk])).json()["next"]["lease"]
    body = post_json(client, reverse("work-label-answer", args=[lease]), {"label": "cat"}).json()
    assert body["next"] is None and body["code"] == "no_work" and body["message"]


def test_a_label_not_in_the_job_is_refused_and_nothing_is_saved(job: Job, wendy: User) -> None:
    client = signed_in(wendy)
    lease = post_json(client, reverse("work-label-next", args=[job.pk])).json()["next"]["lease"]
    response = post_json(client, reverse("work-label-answer", args=[lease]), {"label": "zebra"})
    assert response.status_code == 400 and response.json()["error"]["message"]
    assert not Judgment.objects.exists()


def test_a_worker_cannot_answer_skip_or_see_another_workers_lease(job: Job, wendy: User, walter: User) -> None:
    wendys = lease_claim(worker=wendy, job=job)
    client = signed_in(walter)
    assert post_json(client, reverse("work-label-answer", args=[wendys.pk]), {"label": "cat"}).status_code == 404
    assert post_json(client, reverse("work-label-skip", args=[wendys.pk])).status_code == 404
    mine = post_json(client, reverse("work-label-next", args=[job.pk])).json()["next"]
    assert mine["lease"] != wendys.pk  # his own lease (overlap 3: perhaps on the same item)
    wendys.refresh_from_db()
    assert wendys.status == LeaseStatus.ACTIVE and not Judgment.objects.exists()


def test_the_json_calls_need_the_csrf_token(job: Job, wendy: User) -> None:
    response = signed_in(wendy).post(reverse("work-label-next", args=[job.pk]), data="{}",
                                     content_type="application/json")
    assert response.status_code == 403


def test_gold_feedback_shows_the_right_label_after_a_missed_check_item(wendy: User) -> None:
    job = open_job_with_items(items=40, gold=1, gold_label="dog", gold_rate=Decimal("0.5"))  # on by default
    GoldAnswer.objects.filter(item__job=job).update(explanation="Floppy ears.")
    client = signed_in(wendy)
    lease = post_json(client, reverse("work-label-next", args=[job.pk])).json()["next"]["lease"]
    feedbacks = []
    for _ in range(40):  # the gold item comes up with probability 1/2 per item: surely by now
        body = post_json(client, reverse("work-label-answer", args=[lease]), {"label": "cat"}).json()
        feedbacks.append(body["submitted"]["feedback"])
        if body["next"] is None:
            break
        lease = body["next"]["lease"]
    assert [f for f in feedbacks if f] == [
        {"correct_label": "dog", "explanation": "Floppy ears.", "your_label": "cat"}
    ]


# --- untrusted content


def test_xss_in_item_data_and_instructions_stays_inert(wendy: User) -> None:
    job = JobFactory(title="<b>bold title</b>", instructions=f"Read this {XSS_TEXT} [x](javascript:alert(1))")
    item_bulk_create(job=job, rows=[ItemRow(data={"text": XSS_TEXT, "image": "javascript:alert(1)"})], gold=False)
    publish_funded(job)
    client = signed_in(wendy)
    html = client.get(reverse("work-label", args=[job.pk])).content.decode()
    assert "<script>window.pwned" not in html and "onerror=alert" not in html
    assert "javascript:" not in html and "<b>bold title</b>" not in html
    # Item data goes out as JSON data for textContent; a non-http picture URL is never a src.
    parts = item_parts({"text": XSS_TEXT, "image": "javascript:alert(1)"})
    assert parts["image"] is None and ("image", "javascript:alert(1)") in parts["fields"]
    assert item_parts({"image": "https://example.com/a.png"})["image"] == "https://example.com/a.png"
    list_html = client.get(reverse("work-list")).content.decode()
    assert "<b>bold title</b>" not in list_html and "&lt;b&gt;bold title&lt;/b&gt;" in list_html


def test_no_worker_page_contains_a_gold_answer_when_the_job_turns_feedback_off(wendy: User) -> None:
    job = open_job_with_items(items=3, gold=2, gold_label="bird", gold_rate=Decimal("0.5"),
                              quality_rules={"gold_feedback": False},
                              labels=[*THREE_LABELS, {"key": GOLD_SECRET, "name": "Z", "shortcut": "z"}])
    GoldAnswer.objects.filter(item__job=job).update(label=GOLD_SECRET, explanation="secret-explanation")
    client = signed_in(wendy)
    bodies = []
    response = post_json(client, reverse("work-label-next", args=[job.pk]))
    for _ in range(10):
        bodies.append(response.content.decode())
        nxt = response.json().get("next")
        if not nxt:
            break
        response = post_json(client, reverse("work-label-answer", args=[nxt["lease"]]), {"label": "cat"})
    pages = [client.get(reverse(name, args=args)).content.decode() for name, args in [
        ("work-list", []), ("work-label", [job.pk]), ("worker-earnings", []), ("worker-quality", []),
    ]]
    for text in bodies + pages:
        assert "secret-explanation" not in text
        assert "is_gold" not in text and "is_correct" not in text
    # The gold label is one of the job's labels, so it appears as a button; never as an answer.
    for text in bodies:
        assert GOLD_SECRET not in text


# --- exams


@pytest.fixture
def skill(ada: User) -> Qualification:
    skill = qualification_create(user=ada, name="Animals", exam_labels=THREE_LABELS, pass_mark="0.5",
                                 retry_cooldown_seconds=3600)
    exam_questions_add(user=ada, qualification=skill, questions=[
        {"data": {"text": "a cat " + XSS_TEXT}, "answer": "cat"},
        {"data": {"text": "a dog", "breed": "beagle"}, "answer": "dog"},
    ])
    return skill


def test_the_exam_page_shows_questions_with_labelled_radios_and_no_answers(wendy: User, skill: Qualification) -> None:
    html = signed_in(wendy).get(reverse("work-exam", args=[skill.pk])).content.decode()
    first = skill.questions.order_by("id").first()
    assert f'name="q{first.pk}"' in html and f'for="q{first.pk}-1"' in html
    assert "<legend>Question 1 of 2</legend>" in html
    assert "beagle" in html and "<script>window.pwned" not in html


def test_passing_the_exam_through_the_page_grants_the_qualification(wendy: User, skill: Qualification) -> None:
    client = signed_in(wendy)
    client.get(reverse("work-exam", args=[skill.pk]))
    q1, q2 = skill.questions.order_by("id")
    response = client.post(reverse("work-exam", args=[skill.pk]),
                           {f"q{q1.pk}": "cat", f"q{q2.pk}": "dog",
                            "csrfmiddlewaretoken": client.cookies["csrftoken"].value}, follow=True)
    assert WorkerQualification.objects.filter(worker=wendy, qualification=skill).exists()
    assert "You passed with 2 of 2 right (100%): Animals is yours." in response.content.decode()


def test_failing_shows_when_to_retry_and_hides_the_form(wendy: User, skill: Qualification) -> None:
    client = signed_in(wendy)
    client.get(reverse("work-exam", args=[skill.pk]))
    q1, q2 = skill.questions.order_by("id")
    response = client.post(reverse("work-exam", args=[skill.pk]),
                           {f"q{q1.pk}": "bird", f"q{q2.pk}": "bird",
                            "csrfmiddlewaretoken": client.cookies["csrftoken"].value}, follow=True)
    html = response.content.decode()
    assert ExamAttempt.objects.get(worker=wendy).passed is False
    assert "Not this time: 0 of 2 right (0%); the pass mark is 50%." in html
    assert "You can retry at" in html and "Submit answers" not in html


def test_an_exam_submitted_with_a_question_unanswered_comes_back_with_the_answers_kept(
    wendy: User, skill: Qualification
) -> None:
    client = signed_in(wendy)
    client.get(reverse("work-exam", args=[skill.pk]))
    q1, q2 = skill.questions.order_by("id")

    response = client.post(reverse("work-exam", args=[skill.pk]),
                           {f"q{q1.pk}": "cat", "csrfmiddlewaretoken": client.cookies["csrftoken"].value})

    html = response.content.decode()
    assert response.status_code == 400
    assert "Answer every question before you submit: question 2 has no answer yet." in html
    chosen = re.findall(r'name="q(\d+)"\s+value="(\w+)"[^>]*checked', html)
    assert chosen == [(str(q1.pk), "cat")]  # question 1's answer is still chosen
    assert f'class="card question unanswered" data-question="{q2.pk}"' in html
    assert f'class="card question" data-question="{q1.pk}"' in html
    assert not ExamAttempt.objects.exists()  # no attempt, so no cooldown: the form is still there
    assert "Submit answers" in html and "You can retry at" not in html


@pytest.mark.parametrize("right,of,mark,shown,result", [
    (2, 3, "0.67", "67%", "Failed"),  # 66.666…% is shown as 66.7%, below the mark
    (2, 3, "0.6667", "66.67%", "Failed"),  # 66.7% would look like a pass: two places tell them apart
    (2, 3, "0.5", "50%", "Passed"),
])
def test_the_exam_page_shows_the_score_and_the_pass_mark_so_they_agree_with_the_result(
    wendy: User, ada: User, right: int, of: int, mark: str, shown: str, result: str
) -> None:
    skill = qualification_create(user=ada, name="Thirds", exam_labels=THREE_LABELS, pass_mark=mark,
                                 retry_cooldown_seconds=3600)
    exam_questions_add(user=ada, qualification=skill,
                       questions=[{"data": {"text": f"q{i}"}, "answer": "cat"} for i in range(of)])
    answers = {f"q{q.pk}": ("cat" if n < right else "dog") for n, q in enumerate(skill.questions.order_by("id"))}
    client = signed_in(wendy)
    client.get(reverse("work-exam", args=[skill.pk]))
    answers["csrfmiddlewaretoken"] = client.cookies["csrftoken"].value

    html = client.post(reverse("work-exam", args=[skill.pk]), answers, follow=True).content.decode()

    score = "66.7%" if mark != "0.6667" else "66.66%"
    assert f'data-field="pass-mark">{shown}<' in html and f'data-field="last-score">{score}<' in html
    assert f"{right} of {of} right ({score})" in html
    assert f'<span class="badge {"ok" if result == "Passed" else "bad"}">{result}</span>' in html


def test_a_qualification_without_an_exam_has_no_exam_page(wendy: User, ada: User) -> None:
    bare = qualification_create(user=ada, name="Hand-granted", exam_labels=[])
    assert signed_in(wendy).get(reverse("work-exam", args=[bare.pk])).status_code == 404


