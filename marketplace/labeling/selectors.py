"""Reads for workers: the jobs open to them, their own leases and judgments.

Everything starts from the worker. Another worker's lease looks exactly like a missing one
(NotFound), and nothing here ever selects a GoldAnswer, `is_gold` or `is_correct` for a worker.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from marketplace.accounts.models import ExamQuestion, User, WorkerQualification
from marketplace.errors import NotFound
from marketplace.jobs.models import Item, Job, JobQualification, JobStatus
from marketplace.labeling import gates
from marketplace.labeling.models import JobBlock, Judgment, JudgmentStatus, Lease, LeaseStatus
from marketplace.labeling.serving import jobs_by_serving_order, jobs_in_serving_order
from marketplace.labeling.undoing import judgment_undo_refusal  # noqa: F401  (a read the labeling page asks)


def live_lease_q(*, now: datetime, prefix: str = "") -> Q:
    """A lease holds its slot while active and unexpired; nothing else counts."""
    return Q(**{f"{prefix}status": LeaseStatus.ACTIVE, f"{prefix}expires_at__gt": now})


def job_blocked_for(*, worker: User) -> Exists:
    """For a Job queryset: true where the job has a block on this worker."""
    return Exists(JobBlock.objects.filter(job=OuterRef("pk"), worker=worker))


def job_unqualified_for(*, worker: User) -> Exists:
    """For a Job queryset: true where a requirement is not met (no grant, or a lower score)."""
    meets = WorkerQualification.objects.filter(
        worker=worker, qualification=OuterRef("qualification"), score__gte=OuterRef("min_score")
    )
    return Exists(JobQualification.objects.filter(job=OuterRef("pk")).exclude(Exists(meets)))


def jobs_open_to(*, worker: User) -> QuerySet[Job]:
    """Open jobs the worker may take items from: qualified, not blocked, account not suspended.

    Job priority first, then the oldest: a stable order the API's pages can walk. (A claim for
    "any job" tries them in the serving order instead: labeling/serving.py.)
    """
    if not worker.is_worker or worker.suspended_at is not None:
        return Job.objects.none()
    return (
        Job.objects.filter(status=JobStatus.OPEN)
        .exclude(job_blocked_for(worker=worker))
        .exclude(job_unqualified_for(worker=worker))
        .order_by("-priority", "id")
    )


def job_missing_requirements(*, worker: User, job: Job) -> list[str]:
    """Human-readable requirements the worker does not meet, for the refusal message."""
    held = dict(
        WorkerQualification.objects.filter(worker=worker).values_list("qualification_id", "score")
    )
    missing = []
    for req in JobQualification.objects.filter(job=job).select_related("qualification"):
        score = held.get(req.qualification_id)
        if score is None or score < req.min_score:
            missing.append(f"{req.qualification.name} (score {req.min_score} or more)")
    return missing


def leases_of(*, worker: User) -> QuerySet[Lease]:
    return Lease.objects.filter(worker=worker)


def lease_get_for_worker(*, worker: User, lease_id: int) -> Lease:
    """The worker's own lease with its job and item loaded; anyone else's is NotFound."""
    lease = leases_of(worker=worker).select_related("job", "item").filter(pk=lease_id).first()
    if lease is None:
        raise NotFound("Lease not found.")
    return lease


def judgments_of(*, worker: User, job_id: int | None = None) -> QuerySet[Judgment]:
    """The worker's own judgments, newest first (never anyone else's); answers they undid are gone."""
    qs = Judgment.objects.filter(worker=worker).exclude(status=JudgmentStatus.WITHDRAWN)
    if job_id is not None:
        qs = qs.filter(job_id=job_id)
    return qs.order_by("-created_at", "-id")


# --- Worker portal reads (the pages under /work/) --------------------------------------------

# Expected time per item: the median answer time over this many of a job's latest judgments.
EXPECTED_TIME_SAMPLE = 100


@dataclass(frozen=True)
class MissingRequirement:
    """A qualification a job requires that the worker does not hold (or holds below the score)."""

    qualification_id: int
    name: str
    min_score: Decimal
    has_exam: bool


@dataclass(frozen=True)
class WorkOffer:
    """One open job as the work list shows it to one worker."""

    job: Job
    # Items of the job not yet complete (job-wide, from the counters; or as `done_as_shown` has them).
    items_left: int
    expected_seconds: float | None  # median answer time of recent judgments (any worker)
    missing: list[MissingRequirement]  # empty: the worker may start now
    timed_answers: int = 0  # how many judgments expected_seconds is the median of
    timed_workers: int = 0  # and by how many workers

    @property
    def examinable(self) -> bool:
        """Every missing requirement has an exam, so the worker can qualify on their own."""
        return bool(self.missing) and all(m.has_exam for m in self.missing)


# Workers whose answer times a job's estimate leaves out: {job id: worker ids} (quality's flags,
# passed in by the page above, since labeling sits below quality).
LeaveOut = Callable[[list[int]], Mapping[int, set[int]]]
# A job's completed items as this reader is shown them, where not the live count: {job id: how
# many} (quality's count at the cutoff in jobs hiding gold feedback, progress.py; passed in as
# LeaveOut is). It is given the jobs as loaded, so it reads their rules without a query.
DoneAsShown = Callable[[list[Job]], Mapping[int, int]]


@dataclass(frozen=True)
class AnswerTimes:
    """A job's median answer time and the evidence behind it."""

    seconds: float
    answers: int
    workers: int


def _expected_seconds(*, job_ids: list[int], leave_out: LeaveOut | None = None) -> dict[int, AnswerTimes]:
    """Median seconds of each job's latest EXPECTED_TIME_SAMPLE accepted judgments, in one query,
    leaving out the workers `leave_out` names per job (those answering too fast to be human)."""
    if not job_ids:
        return {}
    skipped = Q()
    for job_id, workers in (leave_out(job_ids) if leave_out else {}).items():
        if workers:
            skipped |= Q(job_id=job_id, worker_id__in=sorted(workers))
    recent = (
        Judgment.objects.filter(job_id__in=job_ids, seconds_spent__isnull=False, status=JudgmentStatus.ACCEPTED)
        .exclude(skipped)
        .annotate(rank=Window(RowNumber(), partition_by=[F("job_id")], order_by=F("id").desc()))
        .filter(rank__lte=EXPECTED_TIME_SAMPLE)
        .values_list("job_id", "seconds_spent", "worker_id")
    )
    times: dict[int, list[Decimal]] = defaultdict(list)
    workers: dict[int, set[int]] = defaultdict(set)
    for job_id, seconds, worker_id in recent:
        times[job_id].append(seconds)
        workers[job_id].add(worker_id)
    # A display figure, not money: float is fine here.
    return {
        job_id: AnswerTimes(seconds=float(statistics.median(values)), answers=len(values),
                            workers=len(workers[job_id]))
        for job_id, values in times.items()
    }


def job_has_work_for(*, worker: User) -> Exists:
    """The job still has an item this worker could be given: unfinished, not gold (gold comes
    mixed in with regular work only), and never leased by them (a claim skips every item the worker
    ever held). It stops at the first such item along the job's unfinished items."""
    return Exists(
        Item.objects.filter(job=OuterRef("pk"), is_complete=False, is_gold=False).exclude(
            Exists(Lease.objects.filter(item=OuterRef("pk"), worker=worker))
        )
    )


def _requirements_unmet(*, worker: User, job_ids: list[int]) -> dict[int, list[MissingRequirement]]:
    """{job id: the qualifications it requires that the worker lacks}, by name; two queries."""
    held = dict(
        WorkerQualification.objects.filter(worker=worker).values_list("qualification_id", "score")
    )
    missing: dict[int, list[MissingRequirement]] = defaultdict(list)
    requirements = (
        JobQualification.objects.filter(job_id__in=job_ids)
        .select_related("qualification")
        .annotate(has_exam=Exists(ExamQuestion.objects.filter(qualification=OuterRef("qualification"))))
        .order_by("job_id", "qualification__name")
    )
    for req in requirements:
        score = held.get(req.qualification_id)
        if score is None or score < req.min_score:
            missing[req.job_id].append(MissingRequirement(
                qualification_id=req.qualification_id, name=req.qualification.name,
                min_score=req.min_score, has_exam=req.has_exam,  # type: ignore[attr-defined]
            ))
    return missing


def work_offers_for(
    *, worker: User, limit: int = 100, leave_out: LeaveOut | None = None,
    done_as_shown: DoneAsShown | None = None,
) -> list[WorkOffer]:
    """Open jobs for the work list: those the worker may take now, then those they could reach by
    passing exams. Blocked jobs, jobs needing a qualification without an exam and jobs with
    nothing left for this worker (they judged every unfinished item) are left out. Four queries
    whatever the number of jobs or of their judgments, and what `done_as_shown` asks."""
    if not worker.is_worker or worker.suspended_at is not None:
        return []
    open_jobs = (
        Job.objects.filter(status=JobStatus.OPEN)
        .defer("instructions", "instructions_html")  # a list: never the instructions
        .exclude(job_blocked_for(worker=worker))
        .filter(job_has_work_for(worker=worker))
        .annotate(unqualified=job_unqualified_for(worker=worker))
    )
    # The order "any job" serves them in (labeling/serving.py): priority, then the least busy.
    jobs = list(jobs_by_serving_order(open_jobs, now=timezone.now())[:limit])
    gated = [job.pk for job in jobs if job.unqualified]  # type: ignore[attr-defined]
    missing = _requirements_unmet(worker=worker, job_ids=gated)
    expected = _expected_seconds(job_ids=[job.pk for job in jobs], leave_out=leave_out)
    shown = done_as_shown(jobs) if done_as_shown and jobs else {}
    offers = []
    for job in jobs:
        times = expected.get(job.pk)
        offers.append(WorkOffer(
            job=job, items_left=max(job.item_count - shown.get(job.pk, job.completed_item_count), 0),
            expected_seconds=times.seconds if times else None, missing=missing.get(job.pk, []),
            timed_answers=times.answers if times else 0, timed_workers=times.workers if times else 0,
        ))
    return [o for o in offers if not o.missing] + [o for o in offers if o.examinable]


def job_get_for_labeling(*, worker: User, job_id: int) -> Job:
    """A job whose labeling page the worker may open: open or paused, requirements met.

    A blocked worker still gets the page (the claim then says why no item comes); a draft or a
    finished job looks missing (NotFound), as does one behind a qualification they lack (the page
    then asks job_gated_for what they lack).
    """
    job = (
        Job.objects.filter(pk=job_id, status__in=[JobStatus.OPEN, JobStatus.PAUSED])
        .exclude(job_unqualified_for(worker=worker))
        .first()
    )
    if job is None or not worker.is_worker:
        raise NotFound("Job not found.")
    return job


def job_gated_for(*, worker: User, job_id: int) -> tuple[Job, list[MissingRequirement]] | None:
    """An open or paused job the worker may not label only for want of qualifications, with the
    ones they lack (the labeling page then says how to earn them); None for anything else."""
    if not worker.is_worker:
        return None
    job = Job.objects.filter(pk=job_id, status__in=[JobStatus.OPEN, JobStatus.PAUSED]).first()
    if job is None:
        return None
    missing = _requirements_unmet(worker=worker, job_ids=[job.pk]).get(job.pk)
    return (job, missing) if missing else None


def job_to_label_next(*, worker: User, now: datetime) -> Job | None:
    """"Label any job": the job of the worker's live lease, else of one their closed labeling page
    returned that still lasts (that job's page takes it back: labeling/returning.py), else the
    first open to them in the serving order (labeling/serving.py) that still has an item they have
    not seen; a job whose gate passes them over now (labeling/gates.py) is skipped either way."""
    for candidate in jobs_in_serving_order(worker=worker, now=now):
        if candidate.own_lease_id is not None:
            return Job.objects.filter(pk=candidate.job_id).first()
        if candidate.returned_lease_id is not None:
            job = Job.objects.filter(pk=candidate.job_id).first()
            if job is not None and gates.worker_served(job=job, worker_id=worker.pk):
                return job
            continue  # passed over there now: its claim would not give the item back
        job = Job.objects.filter(pk=candidate.job_id).filter(job_has_work_for(worker=worker)).first()
        if job is not None and gates.worker_served(job=job, worker_id=worker.pk):
            return job  # (a job whose gate passes the worker over now would only say so)
    return None
