"""What each event says: plain, JSON-safe dicts read from the database when the event is sent.

Built after the commit (and, for a throttled job.progress, when the trailing send fires), so a
message always carries the latest committed state, never a rolled-back one. Money is a string
with two places; rates (pay per judgment) keep their four.

Models are looked up with `apps.get_model` at call time: realtime is a leaf that every app may
call (quality.runs included), so it imports no app's models at import time and no cycle can form.
Money is rounded by `marketplace.money`, which is pure Decimal arithmetic below every app.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db.models import Avg, Count, Q

from marketplace.money import money

ZERO = Decimal("0.00")
# A fixed-overlap job has no target confidence; below this an item counts as uncertain.
UNCERTAIN_BELOW = 0.8
# quality.alert action -> the QualityEvent kind whose reason it carries when none is passed.
ACTION_EVENT_KINDS = {"blocked": "blocked", "unblocked": "unblocked", "flagged": "flagged_fast"}


def _model(label: str) -> Any:
    app, name = label.split(".")
    return apps.get_model(app, name)


def job_progress(*, job_id: int) -> tuple[int, dict[str, Any]] | None:
    """(organization id, message) for a job's counters and cost, or None if the job is gone.

    `spent` is what the client owes so far: completed regular items × the escrowed price (only
    items that were escrowed are charged), or the settled charge once the job is settled; `budget`
    is the escrow opened at publish (plus later imports). So spent/budget reads "cost so far
    against budget" and never exceeds it. A draft has neither: both "0.00".
    """
    row = (
        _model("jobs.Job")
        .objects.filter(pk=job_id)
        .values(
            "organization_id", "status", "item_count", "completed_item_count", "judgment_count"
        )
        .first()
    )
    if row is None:
        return None
    budget = (
        _model("billing.JobBudget")
        .objects.filter(job_id=job_id)
        .values("budget", "items", "price_per_item", "charged", "settled_at")
        .first()
    )
    total, done = row["item_count"], row["completed_item_count"]
    spent, escrowed = ZERO, ZERO
    if budget is not None:
        escrowed = budget["budget"]
        if budget["settled_at"] is not None and budget["charged"] is not None:
            spent = budget["charged"]
        else:
            spent = money(min(done, budget["items"]) * budget["price_per_item"])
    return row["organization_id"], {
        "type": "job.progress",
        "job": job_id,
        "status": row["status"],
        "items_total": total,
        "items_done": done,
        "judgments": row["judgment_count"],
        "percent": round(100.0 * done / total, 1) if total else 0.0,
        "spent": f"{money(spent):.2f}",
        "budget": f"{money(escrowed):.2f}",
    }


def job_organization(*, job_id: int) -> int | None:
    jobs = _model("jobs.Job").objects.filter(pk=job_id)
    return jobs.values_list("organization_id", flat=True).first()


def job_status(*, job_id: int, status: str) -> dict[str, Any]:
    return {"type": "job.status", "job": job_id, "status": status}


def job_consensus(*, run_id: int) -> tuple[int, int, dict[str, Any]] | None:
    """(organization id, job id, message) for a succeeded run, or None.

    estimated_accuracy: the mean consensus confidence over the run's regular items, i.e. the
    expected share of its labels that are right if the model is calibrated (None without items).
    items_uncertain: regular items whose confidence is under the job's target confidence
    (dynamic overlap) or UNCERTAIN_BELOW (fixed overlap).
    """
    run = (
        _model("quality.ConsensusRun")
        .objects.filter(pk=run_id, status="succeeded")
        .values("job_id", "job__organization_id", "job__target_confidence")
        .first()
    )
    if run is None:
        return None
    target = run["job__target_confidence"]
    below = float(target) if target is not None else UNCERTAIN_BELOW
    stats = (
        _model("quality.ItemResult")
        .objects.filter(run_id=run_id, item__is_gold=False)
        .aggregate(mean=Avg("confidence"), uncertain=Count("id", filter=Q(confidence__lt=below)))
    )
    mean = stats["mean"]
    return run["job__organization_id"], run["job_id"], {
        "type": "job.consensus",
        "job": run["job_id"],
        "run": run_id,
        "estimated_accuracy": None if mean is None else round(float(mean), 4),
        "items_uncertain": stats["uncertain"] or 0,
    }


def work_available(*, job_id: int) -> dict[str, Any] | None:
    """A job workers can pick up now (open, with items left), or None."""
    row = (
        _model("jobs.Job")
        .objects.filter(pk=job_id, status="open")
        .values("title", "reward_per_judgment", "item_count", "completed_item_count")
        .first()
    )
    if row is None or row["completed_item_count"] >= row["item_count"]:
        return None
    if _model("jobs.JobQualification").objects.filter(job_id=job_id).exists():
        # Every worker hears this; a job only some qualify for keeps its title and pay to them.
        return {"type": "work.available", "job": job_id, "title": None, "pay": None, "gated": True}
    return {
        "type": "work.available",
        "job": job_id,
        "title": row["title"],
        "pay": str(row["reward_per_judgment"]),  # per accepted judgment, 4 places
        "gated": False,
    }


def quality_alert(
    *, worker_id: int, job_id: int | None, action: str, reason: str | None, username: str | None
) -> dict[str, Any]:
    """A quality action on a worker. A missing username or reason is read back (the latest
    QualityEvent of that worker and job carries the rule's reason and evidence)."""
    if username is None:
        username = (
            _model("accounts.User")
            .objects.filter(pk=worker_id)
            .values_list("username", flat=True)
            .first()
        )
    if reason is None:
        reason = (
            _model("quality.QualityEvent")
            .objects.filter(
                worker_id=worker_id, job_id=job_id, kind=ACTION_EVENT_KINDS.get(action, action)
            )
            .order_by("-id")
            .values_list("reason", flat=True)
            .first()
        )
    return {
        "type": "quality.alert",
        "worker": worker_id,
        "username": username or "",
        "job": job_id,
        "action": action,
        "reason": reason or "",
    }
