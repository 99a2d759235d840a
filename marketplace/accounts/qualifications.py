"""Writes on qualifications: create, add exam questions, take the exam, grant and revoke by hand.

A qualification's exam is its questions: a worker answers them all at once, the share correct
is the score, and reaching `pass_mark` grants the qualification at once. A submission leaving a
question unanswered is refused and is no attempt. A failed attempt starts
`retry_cooldown_seconds` before the next one is accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from marketplace.accounts import selectors
from marketplace.accounts.models import (
    ExamAttempt,
    ExamQuestion,
    Qualification,
    User,
    WorkerQualification,
)
from marketplace.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from marketplace.isotime import iso_utc
from marketplace.limits import MAX_DESCRIPTION_CHARS
from marketplace.labelsets import MAX_LABELS, MIN_LABELS, label_set_validate

MAX_QUESTIONS_PER_CALL = 500
MAX_QUESTIONS_PER_EXAM = 1000  # also the cap on a training set's items
MAX_COOLDOWN_SECONDS = 30 * 24 * 3600
SCORE_PLACES = Decimal("0.0001")  # scores and pass marks: a share in [0, 1], 4 places


def exam_labels_validate(labels: Any) -> list[dict[str, str]]:
    """Normalize exam labels to [{"key", "name", "shortcut"}]. Empty means "no exam"."""
    if labels is None or (isinstance(labels, list | tuple) and not labels):
        return []
    if not isinstance(labels, list | tuple) or not (MIN_LABELS <= len(labels) <= MAX_LABELS):
        raise ApplicationError(
            f"exam_labels must be empty (no exam) or a list of {MIN_LABELS} to {MAX_LABELS} labels."
        )
    return label_set_validate(labels, field="exam_labels")


def _share(value: Any, name: str, *, allow_zero: bool = True) -> Decimal:
    """Parse a share in [0, 1] with at most 4 places; floats go through str() so 0.9 stays 0.9."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        number = Decimal("NaN")
    # is_finite() first: comparing a NaN raises instead of answering.
    if isinstance(value, bool) or not number.is_finite() or not 0 <= number <= 1 or (
        number == 0 and not allow_zero
    ):
        bound = "0" if allow_zero else "above 0"
        raise ApplicationError(f"{name} must be a decimal number from {bound} to 1.")
    if number != number.quantize(SCORE_PLACES):
        raise ApplicationError(f"{name} has at most 4 decimal places.")
    return number


def _name_clean(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ApplicationError("name must be 1 to 120 characters.")
    return name


def _description_clean(description: Any) -> str:
    if not isinstance(description, str | None):
        raise ApplicationError("description must be text.")
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise ApplicationError(
            f"description is {len(description):,} characters long; at most {MAX_DESCRIPTION_CHARS:,} are allowed.",
            details={"description": "too_long"},
        )
    return description


def _cooldown_check(seconds: Any) -> None:
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= MAX_COOLDOWN_SECONDS:
        raise ApplicationError(
            f"retry_cooldown_seconds must be a whole number from 0 to {MAX_COOLDOWN_SECONDS}."
        )


def _free_slug(name: str) -> str:
    base = slugify(name)[:70] or "qualification"
    slug, n = base, 1
    while Qualification.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def qualification_create(
    *,
    user: User,
    name: str,
    slug: str = "",
    description: str = "",
    is_expert: bool = False,
    exam_labels: Any = (),
    pass_mark: Any = Decimal("0.8"),
    retry_cooldown_seconds: int = 3600,
) -> Qualification:
    """Admins create platform-wide qualifications; a client's belong to its organization."""
    if user.is_admin:
        owner_id = None
    elif user.is_client:
        owner_id = user.organization_id
    else:
        raise PermissionDenied("Only clients and admins create qualifications.")
    name = _name_clean(name)
    description = _description_clean(description)
    if not isinstance(is_expert, bool):
        raise ApplicationError("is_expert must be true or false.")
    _cooldown_check(retry_cooldown_seconds)
    labels = exam_labels_validate(exam_labels)
    mark = _share(pass_mark, "pass_mark", allow_zero=False)
    slug = (slug or "").strip()
    if slug:
        try:
            validate_slug(slug)
        except ValidationError:
            raise ApplicationError("slug may hold only letters, digits, '-' and '_'.") from None
        if len(slug) > 80:
            raise ApplicationError("slug must be at most 80 characters.")
        if Qualification.objects.filter(slug=slug).exists():
            raise Conflict(f"The slug {slug!r} is taken; choose another.")
    else:
        slug = _free_slug(name)
    try:
        with transaction.atomic():
            return Qualification.objects.create(
                name=name,
                slug=slug,
                description=description,
                owner_id=owner_id,
                is_expert=is_expert,
                exam_labels=labels,
                pass_mark=mark,
                retry_cooldown_seconds=retry_cooldown_seconds,
            )
    except IntegrityError:  # another request took the slug between our check and the insert
        raise Conflict(f"The slug {slug!r} is taken; choose another.") from None


def check_may_manage(*, user: User, qualification: Qualification) -> None:
    """Admins manage every qualification; a client only its own organization's."""
    if user.is_admin:
        return
    owner_id = qualification.owner_id
    if user.is_client and owner_id is not None and owner_id == user.organization_id:
        return
    raise PermissionDenied("Only the owning organization or an admin can change this qualification.")


@transaction.atomic
def qualification_update(
    *,
    user: User,
    qualification: Qualification,
    name: str,
    description: str = "",
    exam_labels: Any = (),
    pass_mark: Any = Decimal("0.8"),
    retry_cooldown_seconds: int = 3600,
) -> Qualification:
    """Change what a person edits in the portal. The slug and owner never change (jobs and
    API clients refer to them). A label still used as an answer may not be dropped.

    Locking contract: locks the qualification's row, so two editors' label changes cannot each
    pass the "answers still valid" check against the other's questions.
    """
    check_may_manage(user=user, qualification=qualification)
    locked = Qualification.objects.select_for_update().get(pk=qualification.pk)
    name = _name_clean(name)
    _cooldown_check(retry_cooldown_seconds)
    labels = exam_labels_validate(exam_labels)
    mark = _share(pass_mark, "pass_mark", allow_zero=False)
    keys = {label["key"] for label in labels}
    used = set(locked.questions.values_list("answer", flat=True)) | set(
        locked.training_items.values_list("answer", flat=True)
    )
    if used - keys:
        raise ApplicationError(
            "These labels are answers of exam or training questions, so they must stay: "
            f"{', '.join(sorted(used - keys))}."
        )
    locked.name, locked.description = name, _description_clean(description)
    locked.exam_labels, locked.pass_mark = labels, mark
    locked.retry_cooldown_seconds = retry_cooldown_seconds
    locked.save(update_fields=["name", "description", "exam_labels", "pass_mark", "retry_cooldown_seconds"])
    return locked


@transaction.atomic
def exam_question_remove(*, user: User, qualification: Qualification, question_id: int) -> None:
    """Delete one question of this qualification (past attempts keep their answers as sent)."""
    check_may_manage(user=user, qualification=qualification)
    deleted, _ = ExamQuestion.objects.filter(pk=question_id, qualification=qualification).delete()
    if not deleted:
        raise NotFound("No such question in this exam.")


@transaction.atomic
def exam_questions_add(
    *, user: User, qualification: Qualification, questions: Sequence[Mapping[str, Any]]
) -> list[ExamQuestion]:
    """Append questions, each {"data": {...}, "answer": "<label key>"}; all or none are added."""
    qualification, labels = room_locked(
        user=user, qualification=qualification, batch=questions, field="questions", noun="questions",
        held=lambda q: q.questions.count(), holder="An exam",
        no_labels="This qualification has no exam labels, so it cannot have an exam.",
    )
    rows: list[ExamQuestion] = []
    for position, raw in enumerate(questions, start=1):
        data, answer = answer_row_check(
            raw, where=f"questions[{position}]", extra=(), labels=labels, labels_name="the exam labels",
        )
        rows.append(ExamQuestion(qualification=qualification, data=data, answer=answer))
    return ExamQuestion.objects.bulk_create(rows)


def room_locked(
    *, user: User, qualification: Qualification, batch: Any, field: str, noun: str,
    held: Callable[[Qualification], int], holder: str, no_labels: str,
) -> tuple[Qualification, set[str]]:
    """The checks every batch of answered rows (exam questions, practice items) passes first:
    the owner, the row lock, the labels, the batch size and the room left under the cap."""
    check_may_manage(user=user, qualification=qualification)
    # Why: two uploads at once would each see room under the cap; the row lock serializes them.
    qualification = Qualification.objects.select_for_update().get(pk=qualification.pk)
    labels = {label["key"] for label in qualification.exam_labels}
    if not labels:
        raise ApplicationError(no_labels)
    if not isinstance(batch, list | tuple) or not 1 <= len(batch) <= MAX_QUESTIONS_PER_CALL:
        raise ApplicationError(f"{field} must be a list of 1 to {MAX_QUESTIONS_PER_CALL} {noun}.")
    count = held(qualification)
    if count + len(batch) > MAX_QUESTIONS_PER_EXAM:
        raise ApplicationError(
            f"{holder} holds at most {MAX_QUESTIONS_PER_EXAM} {noun.split()[-1]}; this one has {count}."
        )
    return qualification, labels


def answer_row_check(
    raw: Any, *, where: str, extra: tuple[str, ...], labels: set[str], labels_name: str
) -> tuple[dict[str, Any], str]:
    """One row {"data": {...}, "answer": "<label key>", *extra}: its data and answer, checked."""
    if not isinstance(raw, Mapping) or set(raw) - {"data", "answer", *extra}:
        fields = ", ".join(("data", "answer", *extra)[:-1]) + " and " + ("data", "answer", *extra)[-1]
        only = "only " if not extra else ""
        raise ApplicationError(f"{where} must be an object with {only}{fields}.")
    data, answer = raw.get("data"), raw.get("answer")
    if not isinstance(data, dict) or not data:
        raise ApplicationError(f"{where}.data must be a non-empty object.")
    if not isinstance(answer, str) or answer not in labels:
        raise ApplicationError(f"{where}.answer must be one of {labels_name}: {', '.join(sorted(labels))}.")
    return data, answer


def _unanswered_text(numbers: list[int]) -> str:
    """[3] -> "question 3 has"; [2, 3, 5] -> "questions 2, 3 and 5 have" (20 named at most)."""
    if len(numbers) == 1:
        return f"question {numbers[0]} has"
    named, rest = numbers[:20], len(numbers) - 20
    if rest > 0:
        return f"questions {', '.join(map(str, named))} and {rest} more have"
    return f"questions {', '.join(map(str, named[:-1]))} and {named[-1]} have"


def _answers_parse(
    answers: Any, *, question_ids: list[int], labels: set[str]
) -> dict[int, str]:
    """{"<question id>": "label"} -> {id: label}, one for every question of `question_ids` (in the
    order the worker sees them). Unknown ids and labels are errors, and so is a question left
    without an answer (missing or null): a slip of the mouse must not cost an attempt and a wait.
    """
    if not isinstance(answers, Mapping):
        raise ApplicationError('answers must be an object: {"<question id>": "<label>"}.')
    known = set(question_ids)
    given: dict[int, str] = {}
    unknown: list[str] = []
    for raw_id, label in answers.items():
        try:
            question_id = int(str(raw_id))
        except ValueError:
            question_id = -1
        if question_id not in known:
            unknown.append(str(raw_id)[:20])
            continue
        if question_id in given:
            raise ApplicationError(f"Question {question_id} is answered twice.")
        if label is None:
            continue  # unanswered: refused below with the others
        if not isinstance(label, str) or label not in labels:
            raise ApplicationError(
                f"The answer to question {question_id} must be one of: {', '.join(sorted(labels))}."
            )
        given[question_id] = label
    if unknown:
        raise ApplicationError(
            f"These questions are not in this exam: {', '.join(unknown[:20])}.",
            details={"unknown_questions": unknown[:100]},
        )
    unanswered = [(number, qid) for number, qid in enumerate(question_ids, start=1) if qid not in given]
    if unanswered:
        raise ApplicationError(
            f"Answer every question before you submit: {_unanswered_text([n for n, _ in unanswered])} no answer yet.",
            details={"unanswered_questions": [qid for _, qid in unanswered]},
        )
    return given


@transaction.atomic
def exam_submit(
    *, worker: User, qualification: Qualification, answers: Mapping[Any, Any]
) -> ExamAttempt:
    """Score one attempt; a pass grants (or re-scores) the qualification in the same transaction.

    Locking contract: takes a SELECT FOR UPDATE lock on the worker's user row and holds it to
    commit. A failed attempt never revokes a qualification already held; only admins revoke.
    """
    if not worker.is_worker:
        raise PermissionDenied("Only workers take exams.")
    # Why: two submits racing (double click, two tabs) would both pass the cooldown check below
    # and be scored twice; the worker row is the one row every attempt of theirs shares.
    User.objects.select_for_update().filter(pk=worker.pk).values_list("pk", flat=True).get()
    key = dict(ExamQuestion.objects.filter(qualification=qualification).values_list("id", "answer"))
    if not key:
        raise Conflict("This qualification has no exam; an admin grants it by hand.")
    given = _answers_parse(
        answers,
        question_ids=sorted(key),  # the order of the exam page and the API's question list
        labels={label["key"] for label in qualification.exam_labels},
    )
    retry_after = selectors.exam_retry_after(worker=worker, qualification=qualification)
    if retry_after is not None:
        raise Conflict(
            f"You failed this exam recently; you can retry after {retry_after:%Y-%m-%d %H:%M:%S} UTC.",
            details={"retry_after": iso_utc(retry_after)},
        )
    correct = sum(1 for question_id, answer in key.items() if given.get(question_id) == answer)
    # Compare exactly, then store rounded down: pass_mark has 4 places, so both agree.
    passed = Decimal(correct) >= qualification.pass_mark * len(key)
    score = (Decimal(correct) / Decimal(len(key))).quantize(SCORE_PLACES, rounding=ROUND_DOWN)
    attempt = ExamAttempt.objects.create(
        worker=worker,
        qualification=qualification,
        score=score,
        passed=passed,
        answers={str(question_id): label for question_id, label in given.items()},
    )
    if passed:
        WorkerQualification.objects.update_or_create(
            worker=worker,
            qualification=qualification,
            defaults={"score": score, "source": WorkerQualification.Source.EXAM},
        )
    return attempt


@transaction.atomic
def qualification_grant(
    *, admin: User, worker: User, qualification: Qualification, score: Any
) -> WorkerQualification:
    """An admin grants by hand, or overwrites the score of a grant the worker already holds."""
    if not admin.is_admin:
        raise PermissionDenied("Only admins grant qualifications by hand.")
    if not worker.is_worker:
        raise ApplicationError("Only worker accounts hold qualifications.")
    grant, _ = WorkerQualification.objects.update_or_create(
        worker=worker,
        qualification=qualification,
        defaults={"score": _share(score, "score"), "source": WorkerQualification.Source.ADMIN},
    )
    return grant


@transaction.atomic
def qualification_revoke(*, admin: User, worker: User, qualification: Qualification) -> None:
    """Delete the grant. The worker may take the exam again (subject to any running cooldown)."""
    if not admin.is_admin:
        raise PermissionDenied("Only admins revoke qualifications.")
    deleted, _ = WorkerQualification.objects.filter(worker=worker, qualification=qualification).delete()
    if not deleted:
        raise NotFound("That worker does not hold this qualification.")

