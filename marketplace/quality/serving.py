"""Who a dynamic job serves: a worker the job expects to be near chance is not handed its items.

A dynamic job buys judgments until each item is settled. A worker whose expected accuracy is
near chance costs a judgment and moves the item's posterior almost nowhere, so the item is
better left for the next worker. `job_serves_worker` reads what the product knows of the worker
at this moment (the job's latest run, their gold answers here, their global skill elsewhere:
the evidence `OverlapJudge` weighs their votes by) and asks the pure rule
`consensus.dynamic.worker_served`, the one the replay (`manage.py replay --dynamic
--serve-margin`) simulates. A worker nobody knows counts as the crowd and is served; a job that
is not dynamic serves everyone. At most five small queries, read-only, no lock.
"""

from __future__ import annotations

from django.conf import settings

from marketplace.consensus.dynamic import (
    DEFAULT_MODEL,
    SERVE_MARGIN,
    Evidence,
    worker_accuracy,
    worker_served,
)
from marketplace.jobs.models import Job
from marketplace.quality.models import WorkerResult
from marketplace.quality.overlap import JobModel, WorkerRecord, matrix_or_none, job_model, worker_records


def dynamic_gate(job: Job, worker_id: int) -> bool:
    """The gate quality registers for labeling's claim (labeling/gates.py, apps.py): fixed-overlap
    jobs serve everyone without a query; a dynamic job asks `job_serves_worker` at the margin
    QUORUM_DYNAMIC_SERVE_MARGIN (0: serve everyone)."""
    margin = float(settings.QUORUM_DYNAMIC_SERVE_MARGIN)
    if job.target_confidence is None or margin <= 0:
        return True
    return job_serves_worker(job_id=job.pk, worker_id=worker_id, margin=margin)


def job_serves_worker(*, job_id: int, worker_id: int, margin: float = SERVE_MARGIN) -> bool:
    """Whether the dynamic job `job_id` should hand `worker_id` an item now (True: serve)."""
    if not Job.objects.filter(pk=job_id, target_confidence__isnull=False).exists():
        return True  # fixed overlap: every item takes its overlap whoever gives it
    job = job_model(job_id=job_id)
    return worker_served(
        accuracy=job_worker_accuracy(job=job, worker_id=worker_id),
        n_labels=len(job.labels),
        margin=margin,
    )


def job_worker_accuracy(*, job: JobModel, worker_id: int) -> Evidence:
    """The accuracy the job expects of the worker (`consensus.dynamic.worker_accuracy`)."""
    job_id = job.job_id
    k = len(job.labels)
    confusion, judgments = None, 0
    if job.run_id is not None:
        fitted = (
            WorkerResult.objects.filter(run_id=job.run_id, worker_id=worker_id)
            .values_list("confusion", "judgments")
            .first()
        )
        if fitted is not None:
            confusion = matrix_or_none(fitted[0], k)
            judgments = fitted[1] if confusion is not None else 0
    # The same evidence OverlapJudge reads: global skill, gold here, this job's run share.
    record = worker_records(job_id=job_id, worker_ids=[worker_id]).get(worker_id, WorkerRecord())
    return worker_accuracy(
        crowd=job.crowd,
        priors=job.priors,
        skill=record.skill,
        job=record.gold + record.run,
        job_gold=record.gold,
        run_confusion=confusion,
        run_judgments=judgments,
        model=DEFAULT_MODEL,
    )
