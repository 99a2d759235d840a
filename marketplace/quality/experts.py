"""Expert review: items still uncertain at maximum overlap, settled by an expert's judgment.

Experts are admins, and workers holding an expert qualification (`Qualification.is_expert`;
the platform-wide one has the slug "expert" and is created on first use). A platform-wide
expert reviews every job; one holding an organization's own expert qualification reviews only
that organization's jobs.

An expert takes the next open review under an assignment lease (`assigned_to` until
`assigned_until`), sees the item, the label set and the crowd's judgments (labels and counts,
workers under pseudonyms: experts may see others' judgments, regular workers never do) and
settles it with a label. Results exports read settled reviews as "settled by an expert".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from marketplace.accounts.models import Qualification, User, WorkerQualification
from marketplace.errors import ApplicationError, Conflict, NotFound, NothingLeft, PermissionDenied
from marketplace.jobs.models import Item, Job, JobStatus
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality.models import ConsensusRun, ExpertReview, ItemResult, QualityEvent

EXPERT_SLUG = "expert"
#: How long an expert holds a review they took; afterwards another expert may take it.
ASSIGNMENT_SECONDS = 15 * 60


def expert_qualification() -> Qualification:
    """The platform-wide expert qualification, created the first time anyone needs it."""
    qualification, _ = Qualification.objects.get_or_create(
        slug=EXPERT_SLUG,
        defaults={
            "name": "Expert reviewer",
            "description": "Settles items the crowd left uncertain at maximum overlap.",
            "is_expert": True,
        },
    )
    return qualification


def expert_scope(*, user: User) -> Q | None:
    """The reviews this user may work on, as a filter; None when they are no expert at all."""
    if user.is_admin:
        return Q()
    if not user.is_worker or user.suspended_at is not None:
        return None
    owners = set(
        WorkerQualification.objects.filter(worker=user, qualification__is_expert=True).values_list(
            "qualification__owner_id", flat=True
        )
    )
    if not owners:
        return None
    if None in owners:  # a platform-wide expert qualification: every job
        return Q()
    return Q(job__organization_id__in=owners)


def is_expert(user: User) -> bool:
    return expert_scope(user=user) is not None


def _reviews_for_expert(expert: User) -> QuerySet[ExpertReview]:
    scope = expert_scope(user=expert)
    if scope is None:
        raise PermissionDenied("Only experts and admins review items.")
    return ExpertReview.objects.filter(scope).exclude(job__status=JobStatus.CANCELLED)


def _judged_by(expert: User) -> Exists:
    """For an ExpertReview queryset: the expert judged this item as a crowd worker."""
    return Exists(Judgment.objects.filter(item_id=OuterRef("item_id"), worker=expert))


@transaction.atomic
def expert_review_queue(
    *, item_id: int, job_id: int, confidence: float, reason: str, evidence: dict[str, Any]
) -> ExpertReview | None:
    """Open a review for an item left uncertain, logging why; None if it already had one.

    Caller holds the item's row lock (the submit that completed it), so no other review of this
    item can be created meanwhile; the OneToOne on item is the backstop.
    """
    review, created = ExpertReview.objects.get_or_create(
        item_id=item_id,
        defaults={
            "job_id": job_id,
            "status": ExpertReview.Status.OPEN,
            "reason": reason,
            "confidence": confidence,
        },
    )
    if not created:
        return None
    QualityEvent.objects.create(
        job_id=job_id,
        kind=QualityEvent.Kind.EXPERT_QUEUED,
        automatic=True,
        reason=reason,
        evidence=evidence,
    )
    return review


@transaction.atomic
def expert_review_claim(*, expert: User, job_id: int | None = None) -> ExpertReview:
    """The next open review for this expert, assigned to them for ASSIGNMENT_SECONDS.

    Idempotent while the assignment is live: asking again returns the review already held (of
    `job_id` when given). Items the expert judged themselves go to another expert.
    """
    reviews = _reviews_for_expert(expert).filter(status=ExpertReview.Status.OPEN)
    if job_id is not None:
        reviews = reviews.filter(job_id=job_id)
    now = timezone.now()
    held = (
        reviews.filter(assigned_to=expert, assigned_until__gt=now).order_by("assigned_until", "id").first()
    )
    if held is not None:
        return held
    # Lock the first free review, skipping rows another expert's claim holds right now: two
    # experts asking at once get different reviews instead of queueing on the same one.
    review = (
        reviews.filter(Q(assigned_until__isnull=True) | Q(assigned_until__lte=now))
        .exclude(_judged_by(expert))
        .order_by("id")
        .select_for_update(skip_locked=True, of=("self",))
        .first()
    )
    if review is None:
        raise NothingLeft("No item is waiting for your review right now.")
    review.assigned_to = expert
    review.assigned_until = now + timedelta(seconds=ASSIGNMENT_SECONDS)
    review.save(update_fields=["assigned_to", "assigned_until"])
    return review


@transaction.atomic
def expert_review_settle(*, expert: User, review_id: int, label: str) -> ExpertReview:
    """Settle an open review with the expert's label; a retry with the same label is harmless.

    The expert need not have claimed it first, but may not settle a review another expert
    holds, nor an item they judged as a crowd worker.
    """
    # Lock the review: two experts settling it at once must not both win.
    review = (
        _reviews_for_expert(expert)
        .select_related("job")
        .select_for_update(of=("self",))
        .filter(pk=review_id)
        .first()
    )
    if review is None:
        raise NotFound("Review not found.")
    keys = review.job.label_keys
    if label not in keys:
        raise ApplicationError(
            f"Unknown label {label!r}; choose one of {', '.join(keys)}.",
            details={"label": label, "choices": keys},
        )
    if review.status == ExpertReview.Status.SETTLED:
        if review.settled_by_id == expert.pk and review.label == label:
            return review
        raise Conflict("This item is already settled by an expert.", details={"review": review.pk})
    now = timezone.now()
    if _held_by_other(review, expert=expert, now=now):
        raise Conflict("Another expert is reviewing this item; take the next one.")
    if Judgment.objects.filter(item_id=review.item_id, worker=expert).exists():
        raise PermissionDenied("You judged this item yourself; another expert must settle it.")
    review.status = ExpertReview.Status.SETTLED
    review.label = label
    review.settled_by = expert
    review.settled_at = now
    review.assigned_to = expert
    review.assigned_until = None
    review.save(
        update_fields=["status", "label", "settled_by", "settled_at", "assigned_to", "assigned_until"]
    )
    return review


def _held_by_other(review: ExpertReview, *, expert: User, now: datetime) -> bool:
    return (
        review.assigned_to_id not in (None, expert.pk)
        and review.assigned_until is not None
        and review.assigned_until > now
    )


# --- reads


def expert_review_get(*, expert: User, review_id: int) -> ExpertReview:
    """A review the expert may see (another organization's looks absent)."""
    review = _reviews_for_expert(expert).select_related("job", "item").filter(pk=review_id).first()
    if review is None:
        raise NotFound("Review not found.")
    return review


@dataclass(frozen=True)
class CrowdView:
    """The crowd's judgments of one item, as an expert sees them."""

    judgments: list[dict[str, str]]  # [{"worker": "Worker 1", "label": "cat"}], in order given
    counts: dict[str, int]  # every label of the job, chosen or not


def crowd_view(*, review: ExpertReview) -> CrowdView:
    """Accepted judgments with workers renamed "Worker 1", "Worker 2"... (per item)."""
    rows = (
        Judgment.objects.filter(item_id=review.item_id, status=JudgmentStatus.ACCEPTED)
        .order_by("id")
        .values_list("worker_id", "label")
    )
    names: dict[int, str] = {}
    judgments = []
    for worker_id, label in rows:
        name = names.setdefault(worker_id, f"Worker {len(names) + 1}")
        judgments.append({"worker": name, "label": label})
    tally = Counter(j["label"] for j in judgments)
    return CrowdView(judgments=judgments, counts={key: tally.get(key, 0) for key in review.job.label_keys})


@dataclass(frozen=True)
class ReviewSummary:
    open: int
    settled: int
    reasons: list[dict[str, Any]]  # [{"reason", "open", "settled"}], most frequent first

    @property
    def total(self) -> int:
        return self.open + self.settled


def job_review_summary(*, job: Job) -> ReviewSummary:
    """How many of the job's items went to expert review, settled or not, and why."""
    by_reason: dict[str, dict[str, Any]] = {}
    rows = job.expert_reviews.order_by().values_list("reason", "status").annotate(n=Count("id"))
    for reason, status, n in rows:
        entry = by_reason.setdefault(reason, {"reason": reason, "open": 0, "settled": 0})
        entry[status] = entry.get(status, 0) + n
    reasons = sorted(by_reason.values(), key=lambda e: (-(e["open"] + e["settled"]), e["reason"]))
    return ReviewSummary(
        open=sum(e["open"] for e in reasons), settled=sum(e["settled"] for e in reasons), reasons=reasons
    )


def job_reviews(*, job: Job, status: str | None = None) -> QuerySet[ExpertReview]:
    reviews = job.expert_reviews.select_related("item").order_by("id")
    return reviews.filter(status=status) if status else reviews


def crowd_counts(*, item_ids: list[int]) -> dict[int, dict[str, int]]:
    """{item id: {label: accepted judgments}} for a page of items, in one query."""
    counts: dict[int, dict[str, int]] = {}
    rows = (
        Judgment.objects.filter(item_id__in=item_ids, status=JudgmentStatus.ACCEPTED)
        .order_by()
        .values_list("item_id", "label")
        .annotate(n=Count("id"))
    )
    for item_id, label, n in rows:
        counts.setdefault(item_id, {})[label] = n
    return counts


def _request_check(job: Job) -> None:
    if job.status in (JobStatus.DRAFT, JobStatus.CANCELLED):
        raise Conflict("Only a published job that is not cancelled sends items to expert review.")


def expert_review_candidates(*, job: Job, item_ids: list[int]) -> int:
    """How many of `item_ids` a request would send to review now (the quote)."""
    _request_check(job)
    return Item.objects.filter(
        job_id=job.pk, pk__in=sorted(set(item_ids)), is_gold=False, expert_review__isnull=True
    ).count()


@transaction.atomic
def expert_reviews_open(*, job: Job, item_ids: list[int], actor: User) -> list[ExpertReview]:
    """The job's client (or an admin) sends chosen regular items to expert review; items that
    already have a review, gold items and other jobs' ids are passed over. Returns the reviews
    it opened; one QualityEvent records the request. The caller scoped `job` to the actor.

    Locks the chosen items (pk order, as a submit locks its item before queueing a review of
    its own), so every review returned is this request's: the caller charges for exactly these."""
    _request_check(job)
    ids = sorted(set(item_ids))
    candidates = list(
        Item.objects.select_for_update(of=("self",))
        .filter(job_id=job.pk, pk__in=ids, is_gold=False, expert_review__isnull=True)
        .order_by("pk").values_list("pk", flat=True)
    )
    if not candidates:
        return []
    # Under the item locks no review of these items can appear meanwhile; look once more for
    # one committed between the read and the lock.
    taken = set(ExpertReview.objects.filter(item_id__in=candidates).values_list("item_id", flat=True))
    candidates = [pk for pk in candidates if pk not in taken]
    if not candidates:
        return []
    confidence = _latest_confidence(job_id=job.pk, item_ids=candidates)
    reason = f"Sent to expert review by {actor.username}"
    created = ExpertReview.objects.bulk_create(
        [
            ExpertReview(item_id=pk, job_id=job.pk, reason=reason, confidence=confidence.get(pk, 0.0))
            for pk in candidates
        ]
    )
    QualityEvent.objects.create(
        job_id=job.pk, kind=QualityEvent.Kind.EXPERT_QUEUED, automatic=False, actor=actor,
        reason=reason, evidence={"items": len(candidates), "item_ids": candidates[:100]},
    )
    return created


def _latest_confidence(*, job_id: int, item_ids: list[int]) -> dict[int, float]:
    run = (
        ConsensusRun.objects.filter(job_id=job_id, status=ConsensusRun.Status.SUCCEEDED)
        .order_by("-id").values_list("pk", flat=True).first()
    )
    if run is None:
        return {}
    rows = ItemResult.objects.filter(run_id=run, item_id__in=item_ids).values_list("item_id", "confidence")
    return dict(rows)
