"""Appeals (reads): what a worker may appeal and has appealed, what a client or an admin has to
decide. Every list starts from the requester: the worker's own rows, the client's organization's
jobs, or (admins) everything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.jobs.models import GoldAnswer, Job
from marketplace.labeling.models import JobBlock, Judgment
from marketplace.quality.appeals import Mark, appeal_window, block_event_latest, block_marks, review_block_in
from marketplace.quality.models import Appeal, QualityEvent, WithdrawalReview
from marketplace.quality.rules import rules_for

LIST_ROWS = 100  # appeals on one page (open ones first)
GOLD_CHOICES = 50  # missed gold answers offered for appeal at most


@dataclass(frozen=True)
class Appealable:
    kind: str  # "block" or "gold"
    job_id: int
    job_title: str
    judgment_id: int | None  # kind gold
    when: datetime  # the block, or the answer
    until: datetime  # the last moment to appeal
    detail: str  # the block's reason, or "you answered X; the gold answer is Y"

    @property
    def value(self) -> str:
        """The form's value for it: "block:<job id>" or "gold:<judgment id>"."""
        return f"block:{self.job_id}" if self.kind == "block" else f"gold:{self.judgment_id}"


def appealable_for(*, worker: User) -> list[Appealable]:
    """Standing automatic blocks and missed gold answers (in jobs that show gold feedback) the
    worker can still appeal: inside the window, with no open appeal about them."""
    since = timezone.now() - appeal_window()
    open_subjects = set(
        Appeal.objects.filter(worker=worker, status=Appeal.Status.OPEN).values_list("subject", flat=True)
    )
    out: list[Appealable] = []
    for block in JobBlock.objects.filter(worker=worker).select_related("job").order_by("-id"):
        event = block_event_latest(job_id=block.job_id, worker_id=worker.pk)
        if event is None or not event.automatic or event.created_at < since or f"block:{block.job_id}" in open_subjects:
            continue
        out.append(Appealable("block", block.job_id, block.job.title, None, event.created_at,
                              event.created_at + appeal_window(), event.reason))
    missed = (
        Judgment.objects.filter(worker=worker, is_gold=True, is_correct=False, created_at__gte=since)
        .select_related("job").order_by("-id")[:GOLD_CHOICES * 2]
    )
    feedback: dict[int, bool] = {}
    rows = []
    for judgment in missed:
        if judgment.job_id not in feedback:
            feedback[judgment.job_id] = rules_for(job=judgment.job).gold_feedback
        if feedback[judgment.job_id] and f"gold:{judgment.item_id}" not in open_subjects:
            rows.append(judgment)
    gold = dict(GoldAnswer.objects.filter(item_id__in=[j.item_id for j in rows]).values_list("item_id", "label"))
    for judgment in rows[:GOLD_CHOICES]:
        if judgment.item_id not in gold:
            continue  # retired meanwhile
        # The labels' names, as the labeling page showed them, not their keys.
        names = {label["key"]: label.get("name") or label["key"] for label in judgment.job.labels}
        answered, right = (names.get(key, key) for key in (judgment.label, gold[judgment.item_id]))
        out.append(Appealable("gold", judgment.job_id, judgment.job.title, judgment.pk, judgment.created_at,
                              judgment.created_at + appeal_window(),
                              f"You answered {answered}; the gold answer is {right}."))
    return out


def _listed(rows: QuerySet[Appeal]) -> list[Appeal]:
    return list(
        rows.select_related("job", "job__organization", "block_event", "worker", "decided_by", "judgment", "judgment__item", "judgment__item__gold")
        .order_by("status", "-id")[:LIST_ROWS]  # "open" sorts before "rejected" and "upheld"
    )


def appeals_of_worker(*, worker: User) -> list[Appeal]:
    return _listed(Appeal.objects.filter(worker=worker))


def appeals_for_organization(*, user: User, status: str = "") -> list[Appeal]:
    """A client's organization's jobs' appeals (never another organization's)."""
    rows = Appeal.objects.filter(job__organization_id=user.organization_id)
    return _listed(rows.filter(status=status) if status else rows)


def appeals_for_staff(*, status: str = "") -> list[Appeal]:
    rows = Appeal.objects.all()
    return _listed(rows.filter(status=status) if status else rows)


@dataclass(frozen=True)
class ReviewShown:
    """A pending withdrawal review as the staff page shows it, with where its block is now: the
    decision moves that block's pay only (appeals.block_window), whatever became of the block."""

    review: WithdrawalReview
    blocked_at: datetime | None  # the review's block (None: none recorded)
    lifted_at: datetime | None  # when that block ended (None: it stands)
    blocked_again_at: datetime | None  # a later block of the pair, standing now


def withdrawal_reviews() -> list[ReviewShown]:
    """The pending reviews, newest first, each with its block's state (one query for them all)."""
    reviews = list(WithdrawalReview.objects.select_related("job", "worker").filter(
        status=WithdrawalReview.Status.PENDING).order_by("-id")[:LIST_ROWS])
    marks = block_marks(pairs={(r.job_id, r.worker_id) for r in reviews})
    return [_shown(review, marks[(review.job_id, review.worker_id)]) for review in reviews]


def _shown(review: WithdrawalReview, marks: list[Mark]) -> ReviewShown:
    block_id = review_block_in(marks, review=review)
    at = next((i for i, (pk, _, _) in enumerate(marks) if pk == block_id), None)
    if at is None:
        return ReviewShown(review, None, None, None)
    later = marks[at + 1:]  # the block's lift (windows end there), then any later block and lift
    lifted = later[0][2] if later else None
    again = later[-1][2] if later and later[-1][1] == QualityEvent.Kind.BLOCKED else None
    return ReviewShown(review, marks[at][2], lifted, again)


def job_labels(job: Job) -> list[str]:
    return job.label_keys
