"""Qualifications end to end in real browsers: a client writes an exam from an earlier job's gold and
a training set in the portal, and gates a new job on it; a new worker trains, fails the exam once,
waits out a short cooldown, passes, labels the job, misses a gold item and reads its explanation,
undoes an answer, closes the tab, and the item is free for another worker at once (issue 15,
must-show 1).

Each step is a helper taking the page(s) and the cast, so a later test can run the same story and
carry on (undo an answer, close the tab, ...). The cast: Cleo is Acme Pets' client; "Animals,
round 1" is her earlier job whose gold becomes the exam; "Animals, round 2" is the draft she gates;
Nina is a worker with no history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import expect

from marketplace.accounts.models import ExamAttempt, Qualification, User, WorkerQualification
from marketplace.jobs.models import Job, JobStatus
from marketplace.jobs.services import ItemRow, item_bulk_create
from marketplace.labeling.models import Judgment, Lease, LeaseStatus
from marketplace.errors import NothingLeft
from marketplace.labeling.services import lease_claim, lease_release
from tests.browser.conftest import arrange, log_in, screenshot
from tests.threads import until
from marketplace.accounts.qualifications import exam_questions_add, qualification_create
from tests.factories import (
    PASSWORD,
    THREE_LABELS,
    AdminFactory,
    ClientFactory,
    JobFactory,
    OrganizationFactory,
    WorkerFactory,
    fund,
)

SKILL = "Animal spotting"
COOLDOWN_SECONDS = 2
EXAM = [("Meows at the door", "cat"), ("Barks at the mail carrier", "dog"), ("Sings at dawn", "bird")]
DIGITS = {"cat": "1", "dog": "2", "bird": "3"}  # the exam's number keys, in label order
GOLD_WHY = "Floppy ears and a wagging tail: a dog."
ITEMS = 30  # round 2's regular items
GOLD_ITEMS = 6  # round 2's gold, all "dog"; the worker answers "cat" and misses them


@dataclass
class Cast:
    client: User
    worker: User
    source: Job  # round 1, whose gold becomes the exam
    job: Job  # round 2, the draft gated on the qualification


def _make_cast() -> Cast:
    organization = OrganizationFactory(name="Acme Pets", slug="acme-pets")
    cleo = ClientFactory(username="cleo", organization=organization)
    fund(organization, "50.00")
    source = JobFactory(organization=organization, created_by=cleo, title="Animals, round 1")
    item_bulk_create(job=source, rows=[ItemRow(data={"text": "a plain one"}, external_id="p0")], gold=False)
    item_bulk_create(job=source, gold=True, rows=[
        ItemRow(data={"text": text}, external_id=f"g{n}", gold_label=label, explanation=f"It is a {label}.")
        for n, (text, label) in enumerate(EXAM)])
    job = JobFactory(organization=organization, created_by=cleo, title="Animals, round 2")
    item_bulk_create(job=job, gold=False, rows=[
        ItemRow(data={"text": f"Animal sentence {n}"}, external_id=f"r{n}") for n in range(ITEMS)])
    item_bulk_create(job=job, gold=True, rows=[
        ItemRow(data={"text": f"Check sentence {n}"}, external_id=f"c{n}", gold_label="dog", explanation=GOLD_WHY)
        for n in range(GOLD_ITEMS)])
    nina = WorkerFactory(username="nina")
    return Cast(client=cleo, worker=nina, source=source, job=job)


def arrange_cast() -> Cast:
    return arrange(_make_cast)


# --- the client's steps


def client_writes_exam_from_gold(page: Any, cast: Cast) -> Qualification:
    """A new qualification with round 1's labels, 100% to pass, a short cooldown; its exam is
    round 1's gold, copied in the portal."""
    page.goto("/portal/qualifications/")
    page.get_by_role("link", name="New qualification").click()
    page.get_by_label("Name").fill(SKILL)
    page.get_by_label("Description").fill("Tell cats, dogs and birds apart from a sentence.")
    page.get_by_label("…or take the labels of a job").select_option(label=cast.source.title)
    page.get_by_label("Pass mark (% right)").fill("100")
    page.get_by_label("Wait before a retry (seconds)").fill(str(COOLDOWN_SECONDS))
    page.get_by_role("button", name="Create qualification").click()
    page.get_by_text(f"Created “{SKILL}”").wait_for()
    exam = page.get_by_role("form", name="Copy gold into the exam")
    exam.get_by_label("Copy the gold items of").select_option(label=f"{cast.source.title} ({len(EXAM)} gold)")
    exam.get_by_role("button", name="Copy gold").click()
    page.get_by_text(f"Added {len(EXAM)} exam questions.").wait_for()
    expect(page.locator("[data-field=question_count]")).to_have_text(str(len(EXAM)))
    return Qualification.objects.get(name=SKILL)


def client_types_training(page: Any, skill: Qualification, items: list[tuple[str, str, str]]) -> None:
    """Practice items typed in one by one: (text, answer's name, explanation)."""
    page.goto(f"/portal/qualifications/{skill.pk}/")
    for n, (text, answer, why) in enumerate(items, start=1):
        form = page.get_by_role("form", name="Type a training question")
        form.get_by_label("Question text").fill(text)
        form.get_by_label("Right answer").select_option(label=answer)
        form.get_by_label("Why (shown after answering)").fill(why)
        form.get_by_role("button", name="Add practice item").click()
        page.get_by_text("Added 1 practice item.").wait_for()
        expect(page.locator("[data-field=training_count]")).to_have_text(str(n))
    screenshot(page, "client-qualification")


def client_gates_and_publishes(page: Any, cast: Cast, skill: Qualification) -> None:
    """The wizard's last step: it says nobody holds the qualification yet but it has an exam;
    publishing gated on it (score 1) goes through with that warning."""
    page.goto(f"/portal/jobs/{cast.job.pk}/setup/publish/")
    reach = page.get_by_role("table", name="Who holds each qualification").get_by_role("row").filter(has_text=SKILL)
    expect(reach.locator("[data-field=holders]")).to_have_text("0")
    expect(reach).to_contain_text("nobody has passed it yet")
    expect(page.get_by_label("Show workers the right answer and its explanation")).to_be_checked()
    page.get_by_label("Only workers qualified in").select_option(label=SKILL)
    page.get_by_label("with a score of at least").fill("1")
    page.get_by_role("button", name="Publish job").click()
    page.wait_for_url(re.compile(r"/portal/jobs/\d+/$"))
    page.get_by_text(f"No worker holds “{SKILL}” yet: the job starts once workers pass its exam.").wait_for()


# --- the worker's steps


def worker_opens_exam(page: Any) -> None:
    page.goto("/work/")
    page.get_by_role("link", name=f"Take the {SKILL} exam").click()
    page.get_by_role("heading", name=f"{SKILL} exam").wait_for()


def worker_trains(page: Any, answers: list[str], verdicts: list[str]) -> None:
    """From the exam page, practise every item with the number keys: after each answer the page
    says right or wrong, the right answer and why (`verdicts`: text expected after each)."""
    page.get_by_role("link", name=re.compile(r"practice items? with the answers explained")).click()
    for n, (key, verdict) in enumerate(zip(answers, verdicts, strict=True), start=1):
        page.locator('#training[data-keys="ready"]').wait_for(state="attached")
        expect(page.locator("#training-number")).to_have_text(str(n))
        assert page.locator("#training-result").count() == 0  # no answer shown before answering
        page.keyboard.press(key)
        expect(page.locator("#training-result")).to_contain_text(verdict)
        page.locator('#training[data-keys="ready"]').wait_for(state="attached")  # the verdict page's keys
        if n == 1:
            screenshot(page, "worker-training-feedback")
        page.keyboard.press("Enter")  # next item; after the last one, the exam
    page.get_by_role("heading", name=f"{SKILL} exam").wait_for()


def worker_answers_exam(page: Any, labels: list[str]) -> None:
    """Answer every question with its number key (each moves to the next), then Enter."""
    form = page.locator('#exam-form[data-keys="ready"]')
    form.wait_for(state="attached")
    for n, label in enumerate(labels, start=1):
        page.keyboard.press(DIGITS[label])
        expect(form).to_have_attribute("data-answered", str(n))
    page.keyboard.press("Enter")


def worker_fails_exam(page: Any) -> None:
    worker_answers_exam(page, ["bird"] * len(EXAM))  # one of three right
    page.get_by_text("Not this time: 1 of 3 right (33.3%); the pass mark is 100%.").wait_for()
    expect(page.locator("#retry-wait")).to_contain_text(re.compile(r"You can retry at \d\d:\d\d"))
    assert page.locator("#exam-form").count() == 0


def worker_waits_out_cooldown(page: Any) -> None:
    """The page offers the retake itself once the cooldown ends (no reload, no fixed sleep)."""
    retake = page.get_by_role("link", name="Retake the exam")
    expect(retake).to_be_visible(timeout=COOLDOWN_SECONDS * 1000 + 30_000)
    retake.click()


def worker_passes_exam(page: Any) -> None:
    worker_answers_exam(page, [label for _, label in EXAM])
    page.get_by_text(f"You passed with 3 of 3 right (100%): {SKILL} is yours.").wait_for()


def worker_labels_until_gold_feedback(page: Any, job: Job, key: str = "c") -> str:
    """Label the job with one key (Cat) until a missed check item's feedback shows; its text."""
    page.goto(f"/work/jobs/{job.pk}/label/")
    item, feedback = page.locator("#item"), page.locator("#feedback")
    shown = ""
    for answered in range(1, ITEMS + GOLD_ITEMS + 1):
        page.wait_for_function(
            "previous => { const item = document.querySelector('#item');"
            " return item.getAttribute('aria-busy') === 'false' && item.textContent !== previous; }",
            arg=shown,
        )
        shown = item.text_content() or ""
        page.locator('#labeler[data-ahead="ready"], #empty:not([hidden])').first.wait_for(state="attached")
        page.keyboard.press(key)
        expect(page.locator("#done-count")).to_have_text(str(answered))
        expect(page.locator("#save-state")).to_have_text("Saved")
        if feedback.is_visible():
            screenshot(page, "worker-gold-feedback")
            return feedback.inner_text()
    raise AssertionError("no check item came up")


def worker_undoes_an_answer(page: Any) -> str:
    """Answer the item on screen (Dog), take it back with Ctrl+Z: the same item is on screen again
    and the answer is withdrawn. The item's text."""
    item = page.locator("#item")
    page.locator('#labeler[data-ahead="ready"]').wait_for(state="attached")
    shown = item.text_content() or ""
    done = int(page.locator("#done-count").text_content() or "0")
    page.keyboard.press("d")
    expect(page.locator("#done-count")).to_have_text(str(done + 1))
    expect(page.locator("#save-state")).to_have_text("Saved")
    expect(page.locator("#undo")).to_be_visible()
    page.keyboard.press("Control+z")
    expect(item).to_have_text(shown)  # the undone item is back on screen
    expect(page.locator("#done-count")).to_have_text(str(done))
    return shown


def _items_offered(worker: User, job: Job) -> list[int]:
    """Every item the job would hand `worker` now, one after another (each given straight back)."""
    offered = []
    for _ in range(ITEMS + GOLD_ITEMS):
        try:
            lease = lease_claim(worker=worker, job=job)
        except NothingLeft:
            break
        offered.append(lease.item_id)
        lease_release(worker=worker, lease_id=lease.pk)
    return offered


def worker_closes_the_tab(page: Any, cast: Cast) -> None:
    """Close the labeling page as a person closes a tab: within a minute no item of the job is held
    by the worker (the beacon gives both back), so another worker can take them."""
    page.close(run_before_unload=True)
    until(lambda: not arrange(lambda: Lease.objects.filter(
        worker=cast.worker, job=cast.job, status=LeaseStatus.ACTIVE).exists()), "items given back", seconds=60)


def test_a_client_writes_an_exam_from_gold_and_a_new_worker_trains_fails_retries_and_labels(new_page: Any) -> None:
    cast = arrange_cast()
    client, worker = new_page(), new_page()
    log_in(client, cast.client.username, PASSWORD)
    skill = client_writes_exam_from_gold(client, cast)
    assert skill.owner_id == cast.client.organization_id and skill.retry_cooldown_seconds == COOLDOWN_SECONDS
    client_types_training(client, skill, [
        ("Purrs on your lap", "Cat", "Purring is a cat's sound."),
        ("Fetches the stick", "Dog", "Dogs fetch."),
    ])
    client_gates_and_publishes(client, cast, skill)
    cast.job.refresh_from_db()
    assert cast.job.status == JobStatus.OPEN and cast.job.rules_at_publish["gold_feedback"] is True

    log_in(worker, cast.worker.username, PASSWORD)
    worker_opens_exam(worker)
    worker_trains(worker, ["2", "2"], ["the right answer is Cat. Purring is a cat's sound.", "Right: Dog. Dogs fetch."])
    assert not ExamAttempt.objects.filter(worker=cast.worker).exists()  # training is not scored
    worker_fails_exam(worker)
    worker_waits_out_cooldown(worker)
    worker_passes_exam(worker)
    assert WorkerQualification.objects.get(worker=cast.worker, qualification=skill).score == 1

    # The tier's gold rate (5-15%) would serve the first check item only after ~20 regular answers
    # of the job; a higher rate lets it come up within a few items (still never before a regular one).
    arrange(lambda: Job.objects.filter(pk=cast.job.pk).update(gold_rate="0.5"))
    said = worker_labels_until_gold_feedback(worker, cast.job)
    assert "You answered Cat; the right label is Dog." in said and GOLD_WHY in said
    assert Judgment.objects.filter(worker=cast.worker, job=cast.job, is_gold=False).exists()

    undone = worker_undoes_an_answer(worker)
    assert arrange(lambda: Judgment.objects.filter(worker=cast.worker, status="withdrawn").count()) == 1
    worker_closes_the_tab(worker, cast)
    # Another qualified worker now gets the undone item: it is free, not held by the closed tab.
    walter = arrange(WorkerFactory, username="walter-next")
    arrange(lambda: WorkerQualification.objects.create(worker=walter, qualification=skill, score=1, source="exam"))
    undone_item = arrange(lambda: Judgment.objects.get(worker=cast.worker, status="withdrawn").item_id)
    assert undone_item in arrange(_items_offered, walter, cast.job), undone


def _exam_of_three() -> tuple[Qualification, User]:
    admin = AdminFactory(username="ada-exams")
    skill = qualification_create(user=admin, name="Three animals", exam_labels=THREE_LABELS, pass_mark="0.67",
                                 retry_cooldown_seconds=3600)
    exam_questions_add(user=admin, qualification=skill,
                       questions=[{"data": {"text": text}, "answer": label} for text, label in EXAM])
    return skill, WorkerFactory(username="nell")


def test_the_submit_button_does_not_send_an_exam_with_a_question_unanswered(page: Any) -> None:
    """The mouse path: two answers clicked, the third forgotten, Submit clicked. Nothing is sent
    (no attempt, no cooldown): the third question is marked and has the focus."""
    skill, worker = arrange(_exam_of_three)
    log_in(page, worker.username, PASSWORD)
    page.goto(f"/work/exams/{skill.pk}/")
    page.locator('#exam-form[data-keys="ready"]').wait_for(state="attached")
    page.get_by_role("group", name="Question 1 of 3").get_by_label("Cat").check()
    page.get_by_role("group", name="Question 2 of 3").get_by_label("Dog").check()

    page.get_by_role("button", name="Submit answers").click()

    third = page.get_by_role("group", name="Question 3 of 3")
    expect(page.locator("#exam-progress")).to_have_text("Question 3 has no answer yet.")
    expect(third).to_have_class(re.compile(r"\bunanswered\b"))
    expect(third.get_by_label("Cat")).to_be_focused()
    expect(page.get_by_role("group", name="Question 1 of 3").get_by_label("Cat")).to_be_checked()
    assert not arrange(lambda: ExamAttempt.objects.filter(worker=worker).exists())

    page.keyboard.press("3")  # the focused question takes its answer; then the exam goes
    page.get_by_role("button", name="Submit answers").click()
    page.get_by_text("You passed with 3 of 3 right (100%): Three animals is yours.").wait_for()
