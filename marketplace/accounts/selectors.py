"""Reads on accounts and qualifications, always starting from the requester.

Another organization's private qualification looks exactly like a missing one (NotFound).
Exam answers are never selected by anything a worker reaches: questions for taking an exam
come out as {"id", "data"} dicts, so the answer column does not even leave the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from marketplace.accounts.models import (
    ApiToken,
    ExamAttempt,
    ExamQuestion,
    Qualification,
    Role,
    TrainingItem,
    User,
    WorkerQualification,
    Suspension,
)
from marketplace.errors import ApplicationError, NotFound


def api_tokens_of(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def organization_members_of(*, user: User) -> QuerySet[User]:
    """A client's colleagues (itself included); nobody else belongs to an organization."""
    if not user.is_client or user.organization_id is None:
        return User.objects.none()
    return User.objects.filter(organization_id=user.organization_id).order_by("username")


def suspensions_of(*, worker: User) -> QuerySet[Suspension]:
    """The worker's suspensions, newest first, lifted ones included (the record auditors read)."""
    return Suspension.objects.filter(worker=worker).select_related("suspended_by", "lifted_by")


def worker_get(*, worker_id: int) -> User:
    worker = User.objects.filter(pk=worker_id, role=Role.WORKER).first()
    if worker is None:
        raise NotFound("Worker not found.")
    return worker


def qualifications_visible_to(*, user: User) -> QuerySet[Qualification]:
    """Admins see all; clients platform-wide ones and their own; workers those with an exam or held.

    Each row carries `question_count` so lists need no query per qualification.
    """
    if user.is_admin:
        qs = Qualification.objects.all()
    elif user.is_client:
        qs = Qualification.objects.filter(Q(owner__isnull=True) | Q(owner_id=user.organization_id))
    elif user.is_worker:
        has_exam = Exists(ExamQuestion.objects.filter(qualification=OuterRef("pk")))
        held = Exists(WorkerQualification.objects.filter(worker=user, qualification=OuterRef("pk")))
        qs = Qualification.objects.filter(has_exam | held)
    else:
        return Qualification.objects.none()
    return qs.select_related("owner").annotate(question_count=Count("questions")).order_by("name", "id")


def qualification_get_visible(*, user: User, qualification_id: int) -> Qualification:
    qualification = qualifications_visible_to(user=user).filter(pk=qualification_id).first()
    if qualification is None:
        raise NotFound("Qualification not found.")
    return qualification


def exam_questions_for_taking(*, qualification: Qualification) -> list[dict[str, Any]]:
    """The questions as a worker sees them: id and data, never the answer."""
    return list(
        ExamQuestion.objects.filter(qualification=qualification).order_by("id").values("id", "data")
    )


def exam_last_attempt(*, worker: User, qualification: Qualification) -> ExamAttempt | None:
    return (
        ExamAttempt.objects.filter(worker=worker, qualification=qualification)
        .order_by("-submitted_at", "-id")
        .first()
    )


def _cooldown_end(attempt: ExamAttempt | None, qualification: Qualification) -> datetime | None:
    if attempt is None or attempt.passed:
        return None
    return attempt.submitted_at + timedelta(seconds=qualification.retry_cooldown_seconds)


def exam_retry_after(
    *, worker: User, qualification: Qualification, now: datetime | None = None
) -> datetime | None:
    """When the worker may retry, if a failed attempt's cooldown is still running; else None."""
    end = _cooldown_end(exam_last_attempt(worker=worker, qualification=qualification), qualification)
    return end if end is not None and end > (now or timezone.now()) else None


def retry_after_for(*, attempt: ExamAttempt) -> datetime | None:
    """The end of the cooldown this attempt starts (None after a pass)."""
    return _cooldown_end(attempt, attempt.qualification)


@dataclass(frozen=True)
class ExamStatus:
    question_count: int
    held_score: Decimal | None
    last_attempt: ExamAttempt | None
    retry_after: datetime | None  # set only while a failed attempt's cooldown runs

    @property
    def may_take(self) -> bool:
        return self.question_count > 0 and self.retry_after is None


def exam_status(*, worker: User, qualification: Qualification) -> ExamStatus:
    last = exam_last_attempt(worker=worker, qualification=qualification)
    end = _cooldown_end(last, qualification)
    held = (
        WorkerQualification.objects.filter(worker=worker, qualification=qualification)
        .values_list("score", flat=True)
        .first()
    )
    return ExamStatus(
        question_count=ExamQuestion.objects.filter(qualification=qualification).count(),
        held_score=held,
        last_attempt=last,
        retry_after=end if end is not None and end > timezone.now() else None,
    )


def worker_qualifications_of(*, worker: User) -> QuerySet[WorkerQualification]:
    return (
        WorkerQualification.objects.filter(worker=worker)
        .select_related("qualification")
        .order_by("qualification__name", "qualification_id")
    )


def qualifications_managed_by(*, user: User) -> QuerySet[Qualification]:
    """What the portal lets this person edit: admins every qualification, a client only its
    organization's (platform-wide ones are the staff's), anyone else nothing. Each row carries
    question_count, training_count and holder_count."""
    if user.is_admin:
        qs = Qualification.objects.all()
    elif user.is_client and user.organization_id is not None:
        qs = Qualification.objects.filter(owner_id=user.organization_id)
    else:
        return Qualification.objects.none()
    return (
        qs.select_related("owner")
        .annotate(
            question_count=Count("questions", distinct=True),
            training_count=Count("training_items", distinct=True),
            holder_count=Count("holders", distinct=True),
        )
        .order_by("name", "id")
    )


def qualification_get_managed(*, user: User, qualification_id: int) -> Qualification:
    """Another organization's qualification looks exactly like a missing one (NotFound)."""
    qualification = qualifications_managed_by(user=user).filter(pk=qualification_id).first()
    if qualification is None:
        raise NotFound("Qualification not found.")
    return qualification


def exam_questions_of(*, qualification: Qualification) -> QuerySet[ExamQuestion]:
    """The questions with their answers: for the people who manage the qualification only."""
    return ExamQuestion.objects.filter(qualification=qualification).order_by("id")


@dataclass(frozen=True)
class Reach:
    """How many workers could take a job gated on a qualification, for the wizard."""

    holders: int  # workers holding it at all
    qualified: int  # workers holding it at or above the job's minimum score
    has_exam: bool


def qualification_reach(
    *, qualification_ids: list[int], min_score: Decimal = Decimal("0")
) -> dict[int, Reach]:
    """Holders and exam presence of each qualification: three queries however many."""
    holders = dict(
        WorkerQualification.objects.filter(qualification_id__in=qualification_ids)
        .values("qualification_id").annotate(n=Count("id")).values_list("qualification_id", "n")
    )
    qualified = dict(
        WorkerQualification.objects.filter(qualification_id__in=qualification_ids, score__gte=min_score)
        .values("qualification_id").annotate(n=Count("id")).values_list("qualification_id", "n")
    )
    with_exam = set(
        ExamQuestion.objects.filter(qualification_id__in=qualification_ids)
        .values_list("qualification_id", flat=True).distinct()
    )
    return {
        qid: Reach(holders=holders.get(qid, 0), qualified=qualified.get(qid, 0), has_exam=qid in with_exam)
        for qid in qualification_ids
    }


# --- training (practice items: their answers are shown, but only after the worker answers)


def training_items_of(*, qualification: Qualification) -> list[TrainingItem]:
    """Every practice item with its answer: for the people who manage the qualification."""
    return list(TrainingItem.objects.filter(qualification=qualification).order_by("id"))


def training_count(*, qualification: Qualification) -> int:
    return TrainingItem.objects.filter(qualification=qualification).count()


def training_item_at(*, qualification: Qualification, position: int) -> dict[str, Any] | None:
    """The practice item at `position` (0-based) as a worker sees it before answering: id and
    data only, never the answer or the explanation."""
    if position < 0:
        return None
    return (
        TrainingItem.objects.filter(qualification=qualification).order_by("id")
        .values("id", "data")[position:position + 1].first()
    )


@dataclass(frozen=True)
class TrainingResult:
    correct: bool
    given: str
    answer: str
    explanation: str


def training_answer_check(*, qualification: Qualification, item_id: int, label: str) -> TrainingResult:
    """Compare a practice answer with the right one. Not scored and not stored."""
    keys = {label["key"] for label in qualification.exam_labels}
    if label not in keys:
        raise ApplicationError(f"Choose one of the labels: {', '.join(sorted(keys))}.")
    item = TrainingItem.objects.filter(pk=item_id, qualification=qualification).first()
    if item is None:
        raise NotFound("No such practice item.")
    return TrainingResult(correct=label == item.answer, given=label, answer=item.answer,
                          explanation=item.explanation)
