"""Consensus runs of a job: claim one, then read, fit and write its results in bulk.

A run is claimed first (a RUNNING row, at most one per job) and executed after: the API answers
with the claimed run's id while a background task does the work, and two triggers arriving
together never fit the same job twice. `consensus_run` does both at once, for callers that wait.
While it executes a run beats; a run whose process died stops beating and is failed by the next
claim of its job or by the periodic sweep (heartbeat.py, tasks.consensus_runs_sweep).

The hot path holds no Python object per judgment: judgments come in as numpy arrays
(reading.judgment_arrays: COPY binary on PostgreSQL), the fit is numpy (or crowd-kit for its
methods), and results go out by COPY (writing.py).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplace.consensus import (
    DEFAULT_MAX_ROUNDS,
    DEFAULT_PRIOR_STRENGTH,
    DEFAULT_TOL,
    METHODS,
    ConsensusResult,
    Votes,
    aggregate,
)
from marketplace.consensus.cost import fit_cost
from marketplace.consensus.dynamic import crowd_of
from marketplace.errors import ApplicationError, Conflict
from marketplace.jobs.models import GoldAnswer, Job
from marketplace.labeling.models import Judgment
from marketplace.quality.collusion import collusion_flags_refresh_safely
from marketplace.quality.estimate import jobs_accuracy_estimates
from marketplace.quality.heartbeat import Heartbeat, consensus_run_start, consensus_runs_fail_stale
from marketplace.quality.models import ConsensusRun
from marketplace.quality.predictions import run_with_models
from marketplace.quality.reading import judgment_arrays
from marketplace.quality.runs_multi import multi_run_fit_store
from marketplace.quality.skills import worker_run_shares_replace
from marketplace.quality.writing import item_results_anchor, item_results_write, worker_results_write
from marketplace.realtime import events

logger = logging.getLogger(__name__)

DEFAULT_METHOD = "quorum"
# Tunable options of `aggregate`, with their bounds (inclusive).
_OPTIONS: dict[str, tuple[type, float, float]] = {
    "max_rounds": (int, 1, 10_000),
    "tol": (float, 0.0, 1.0),
    "prior_strength": (float, 0.0, 1_000.0),
}
_DEFAULTS = {
    "max_rounds": DEFAULT_MAX_ROUNDS,
    "tol": DEFAULT_TOL,
    "prior_strength": DEFAULT_PRIOR_STRENGTH,
}


def method_check(method: str | None) -> str:
    name = (method or DEFAULT_METHOD).strip().lower()
    if name not in METHODS:
        raise ApplicationError(
            f"Unknown consensus method {name!r}; choose from {', '.join(sorted(METHODS))}.",
            details={"reason": "unknown_method", "methods": sorted(METHODS)},
        )
    return name


def options_clean(options: dict[str, Any] | None) -> dict[str, Any]:
    """The run's options with defaults filled in; unknown keys and out-of-range values raise."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ApplicationError(f"Unknown consensus options: {', '.join(unknown)}.")
    clean: dict[str, Any] = dict(_DEFAULTS)
    for name, raw in options.items():
        kind, low, high = _OPTIONS[name]
        try:
            value = kind(raw) if not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            value = None
        if (
            value is None
            or (kind is float and not math.isfinite(value))
            or not (low <= value <= high)
        ):
            raise ApplicationError(f"{name} must be a number from {low:g} to {high:g}.")
        clean[name] = value
    return clean


def consensus_options(parameters: dict[str, Any]) -> dict[str, Any]:
    """A run's tunable options (what `aggregate` takes) from its stored parameters, defaults filled."""
    return {name: parameters.get(name, default) for name, default in _DEFAULTS.items()}


@transaction.atomic
def consensus_run_claim(
    *,
    job: Job,
    method: str | None = DEFAULT_METHOD,
    trigger: str = ConsensusRun.Trigger.MANUAL,
    options: dict[str, Any] | None = None,
) -> ConsensusRun:
    """Create the job's RUNNING run, or raise Conflict (details name the run already running)."""
    method = method_check(method)
    clean = options_clean(options)
    if trigger == ConsensusRun.Trigger.MANUAL:  # the automatic runs are the default, sized for any job
        _affordable_check(job=job, method=method, max_rounds=int(clean["max_rounds"]))
    # Lock the job row: claims of one job queue here, so two cannot both see "nothing running".
    # NO KEY UPDATE: it conflicts with another claim's, never with the KEY SHARE every submit in
    # flight holds, so a claim neither waits for the submits nor makes new ones queue behind it.
    Job.objects.select_for_update(no_key=True).filter(pk=job.pk).values_list("pk", flat=True).get()
    consensus_runs_fail_stale(job_id=job.pk)  # a dead run must not hold the job until the sweep
    running = (
        ConsensusRun.objects.filter(job_id=job.pk, status=ConsensusRun.Status.RUNNING)
        .order_by("-id")
        .first()
    )
    if running is not None:
        raise Conflict(
            f"Consensus run {running.pk} of this job is still running; try again when it ends.",
            details={"reason": "run_in_progress", "run": running.pk},
        )
    return ConsensusRun.objects.create(
        job_id=job.pk, method=method, parameters=clean, trigger=trigger, started_at=timezone.now()
    )


def _affordable_check(*, job: Job, method: str, max_rounds: int) -> None:
    """Refuse (400) a run asked for by a person that would exceed QUORUM_CONSENSUS_MAX_SECONDS
    at its worst, or that its method cannot fit in memory (consensus/cost.py): one such run
    would hold the worker that every organization's asked runs share (Procfile's `asked`)."""
    judgments = job.judgment_count + job.gold_judgment_count
    workers = Judgment.objects.filter(job_id=job.pk).values("worker_id").distinct().count() if method == "mmsr" else 0
    cost = fit_cost(method, judgments=judgments, labels=len(job.labels), workers=workers,
                    items=job.item_count, max_rounds=max_rounds)
    limit = settings.QUORUM_CONSENSUS_MAX_SECONDS
    if cost.refused or cost.seconds > limit:
        reason = cost.refused or (
            f"{method} on {judgments:,} judgments x {len(job.labels)} labels could take up to "
            f"{_duration(cost.seconds)} (up to {max_rounds} rounds), over this server's limit of "
            f"{_duration(limit)}"
        )
        raise ApplicationError(
            f"This consensus run is too costly: {reason}. Use the default method \"quorum\" "
            "(or fewer max_rounds); an operator can raise QUORUM_CONSENSUS_MAX_SECONDS.",
            details={"reason": "run_too_costly", "estimate_seconds": round(cost.seconds),
                     "limit_seconds": limit},
        )


def _duration(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds < 120 else f"{seconds / 60:,.0f} min"


def consensus_run_execute(*, run: ConsensusRun) -> ConsensusRun:
    """Read, fit and write a claimed run, finishing it as succeeded or failed (with the error).

    Results and the finished run row are written in one transaction: a failure leaves no
    half-written results. A fit that raises is recorded as failed, not re-raised. The run beats
    while it executes (heartbeat.py); a run closed before it started is left as it is.
    Once the results commit, the job's collusion flags are rescanned on the same fit, in a
    transaction of their own (quality/collusion.py): the run never waits for them.
    """
    started = time.perf_counter()
    fitted: dict[str, Any] | None = None
    if not consensus_run_start(run_id=run.pk):
        run.refresh_from_db()
        return run
    with Heartbeat(run_id=run.pk):  # outside the transaction: see Heartbeat
        try:
            with transaction.atomic():
                fitted = _fit_and_store(run, started)
        except Exception as exc:
            logger.exception("consensus run %s of job %s failed", run.pk, run.job_id)
            ConsensusRun.objects.filter(pk=run.pk, status=ConsensusRun.Status.RUNNING).update(
                status=ConsensusRun.Status.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:2000],
                finished_at=timezone.now(),
                seconds=time.perf_counter() - started,
            )
    if fitted is not None and run.trigger != ConsensusRun.Trigger.REPLAY:  # replays: no one to suspect
        collusion_flags_refresh_safely(**fitted)
    run.refresh_from_db()
    return run


def consensus_run(
    *,
    job: Job,
    method: str = DEFAULT_METHOD,
    trigger: str = ConsensusRun.Trigger.MANUAL,
    options: dict[str, Any] | None = None,
) -> ConsensusRun:
    """Claim and execute a run now; the returned run is succeeded or failed (Conflict if one runs)."""
    run = consensus_run_claim(job=job, method=method, trigger=trigger, options=options)
    return consensus_run_execute(run=run)


def _fit_and_store(run: ConsensusRun, started: float) -> dict[str, Any] | None:
    """Fit and write the run's results; returns what the collusion scan needs from the fit."""
    labels, multi_label = Job.objects.filter(pk=run.job_id).values_list("labels", "multi_label").get()
    keys = [choice["key"] for choice in labels]
    if multi_label:
        return _fit_and_store_multi(run, started, keys)
    arrays = judgment_arrays(job_id=run.job_id, label_set=keys)
    # A job has at most tens of thousands of gold items: a dict is fine here.
    gold = dict(
        GoldAnswer.objects.filter(item__job_id=run.job_id, label__in=keys).values_list(
            "item_id", "label"
        )
    )
    votes = Votes(
        items=arrays.items, workers=arrays.workers, codes=arrays.codes, label_set=tuple(keys)
    )
    read_seconds = time.perf_counter() - started
    options = consensus_options(run.parameters)
    result = aggregate(votes, method=run.method, gold=gold, labels=keys, **options)
    # Model versions vote too, scored against the people (quality/predictions.py): the items'
    # labels take their votes; workers' results and skills stay the people's own.
    labelled, models = run_with_models(job_id=run.job_id, result=result, gold=gold)
    write_started = time.perf_counter()
    items = item_results_write(run_id=run.pk, result=labelled, votes=votes)
    workers = worker_results_write(run_id=run.pk, result=result)
    # This run's share of the workers' global skill replaces the job's previous run's (in this
    # transaction: all or nothing). Rows only runs write: no submit in flight waits on them.
    worker_run_shares_replace(job_id=run.job_id, result=result, votes=votes, gold_items=list(gold))
    write_seconds = time.perf_counter() - write_started
    crowd = crowd_of(result)
    parameters = {
        **run.parameters,
        **result.parameters,
        # Class priors in label order: dynamic overlap's single-item E-step reads them back.
        "priors": [round(float(p), 6) for p in result.priors],
        # The typical worker of the job, for workers the run has not seen (quality/overlap.py).
        "crowd": {
            "accuracy": round(crowd.accuracy, 6),
            "confusion": None if crowd.confusion is None else [
                [round(float(p), 6) for p in row] for row in crowd.confusion
            ],
        },
        # Each model version as a worker: its accuracy and confusion, measured against the people.
        "models": models,
        # Regular items with one judgment: consensus cannot check those against anyone, so its
        # own confidence there is no measure (the job page says so: web/client/job_reads.py).
        "judged_once": judged_once(result, gold=gold),
        "timings": {
            "read": round(read_seconds, 4),
            "fit": round(result.seconds, 4),
            "write": round(write_seconds, 4),
        },
    }
    # Before the run row's UPDATE: a draft's deletion holds the job row and waits for that row.
    item_results_anchor(job_id=run.job_id, run_id=run.pk)
    finished = ConsensusRun.objects.filter(pk=run.pk, status=ConsensusRun.Status.RUNNING).update(
        status=ConsensusRun.Status.SUCCEEDED,
        parameters=parameters,
        finished_at=timezone.now(),
        seconds=time.perf_counter() - started,
        fit_seconds=result.seconds,
        judgments=len(votes),
        items=items,
        workers=workers,
        gold_items=int(result.parameters.get("gold_items", 0)),
        rounds=result.rounds,
        converged=result.converged,
    )
    if finished != 1:  # failed as abandoned meanwhile: keep that verdict, drop these results
        raise Conflict(f"Consensus run {run.pk} was closed while it ran.")
    # Sent once these results commit, with the job's expected accuracy as its page shows it.
    events.job_consensus(run_id=run.pk, estimate=_estimate_event(run.job_id))
    return {"job_id": run.job_id, "run_id": run.pk, "result": result, "votes": votes, "gold_items": list(gold)}


def judged_once(result: ConsensusResult, *, gold: dict[int, str]) -> dict[str, int]:
    """How many of the run's regular (non-gold) items have a single judgment, and of how many."""
    regular = ~np.isin(result.items, np.fromiter(gold, dtype=np.int64, count=len(gold)))
    return {"items": int((result.item_judgments[regular] == 1).sum()), "of": int(regular.sum())}


def _fit_and_store_multi(run: ConsensusRun, started: float, keys: list[str]) -> dict[str, Any]:
    """A multi-label job's run: per-label consensus (runs_multi.py); returns what the collusion
    scan needs (agreement per label)."""
    fitted = multi_run_fit_store(
        run_id=run.pk, job_id=run.job_id, keys=keys, method=run.method,
        options=consensus_options(run.parameters), started=started,
    )
    scan = fitted.pop("scan")
    item_results_anchor(job_id=run.job_id, run_id=run.pk)  # before the run row's UPDATE, as above
    finished = ConsensusRun.objects.filter(pk=run.pk, status=ConsensusRun.Status.RUNNING).update(
        status=ConsensusRun.Status.SUCCEEDED,
        parameters={**run.parameters, **fitted.pop("parameters")},
        finished_at=timezone.now(),
        seconds=time.perf_counter() - started,
        **fitted,
    )
    if finished != 1:  # failed as abandoned meanwhile: keep that verdict, drop these results
        raise Conflict(f"Consensus run {run.pk} was closed while it ran.")
    events.job_consensus(run_id=run.pk, estimate=_estimate_event(run.job_id))
    return {"job_id": run.job_id, "run_id": run.pk, **scan}


def _estimate_event(job_id: int) -> dict[str, Any]:
    """The job's expected accuracy for the live event, read in the run's transaction (its results
    and the SUCCEEDED row are visible here), so the browser gets the figure the page computes."""
    estimate = jobs_accuracy_estimates(job_ids=[job_id]).get(job_id)
    return estimate.as_event() if estimate is not None else {}
