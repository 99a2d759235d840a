"""What each event says: plain, JSON-safe dicts read from the database when the event is sent.

Built after the commit (and, for a throttled job.progress, when the trailing send fires), so a
message always carries the latest committed state, never a rolled-back one. Money is a string
with two places; rates (pay per judgment) keep their four.

Models are looked up with `apps.get_model` at call time: realtime is a leaf that every app may
call (quality.runs included), so it imports no app's models at import time and no cycle can form.
Money is rounded by `marketplace.money`, which is pure Decimal arithmetic below every app.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import Any

from django.apps import apps
from django.db import connection

from marketplace.money import money

ZERO = Decimal("0.00")
# A fixed-overlap job has no target confidence; below this an item counts as uncertain.
UNCERTAIN_BELOW = 0.8
# quality.alert action -> the QualityEvent kind whose reason it carries when none is passed.
# Job's tallied counter -> the JobTally column it sums (jobs.models.TALLIED, not imported: see above).
TALLY_COLUMNS = {"judgment_count": "judgments", "completed_item_count": "completed_items"}
ACTION_EVENT_KINDS = {"blocked": "blocked", "unblocked": "unblocked", "flagged": "flagged_fast"}


def _model(label: str) -> Any:
    app, name = label.split(".")
    return apps.get_model(app, name)


def job_progress(*, job_id: int) -> tuple[int, dict[str, Any]] | None:
    """(organization id, message) for a job's counters and cost, or None if the job is gone.

    `spent` is what the client owes so far, what settling now would charge (the arithmetic of
    billing.selectors.job_charge, which this leaf may not import; tests/realtime/test_payloads.py
    holds the two equal): chargeable items (complete, or reopened for more judgments after they
    completed, at most the items escrowed) × the price, plus the client's expert reviews settled
    so far, plus the pay of the more judgments it asked for and got; or the settled charge once
    the job is settled. `budget` is the escrow opened at publish (plus later imports and
    additions). A draft has neither: both "0.00".
    """
    row = _progress_row(job_id)
    if row is None:
        return None
    (organization_id, status, total, done, judgments, budget, items, price_per_item, charged, settled_at,
     reopened, reviews, extra, pay) = row
    spent, escrowed = ZERO, ZERO
    if budget is not None:
        escrowed = budget
        if settled_at is not None and charged is not None:
            spent = charged
        else:
            spent = money(min(done + reopened, items) * price_per_item) + reviews + money(extra * pay)
    return organization_id, {
        "type": "job.progress",
        "job": job_id,
        "status": status,
        "items_total": total,
        "items_done": done,
        "judgments": judgments,
        "percent": round(100.0 * done / total, 1) if total else 0.0,
        "spent": f"{money(spent):.2f}",
        "budget": f"{money(escrowed):.2f}",
    }


def _progress_row(job_id: int) -> tuple[Any, ...] | None:
    """(organization_id, status, item_count, completed items, judgments, then the budget's budget,
    items, price_per_item, charged, settled_at: None without a budget, then the reopened-complete
    items, the charged expert reviews' sum, the more judgments given, the pay) in one statement.

    What Job.objects.filter(pk=...).values(...).first() (its tally sums annotated by JobManager)
    and JobBudget.objects.filter(job_id=...).values(...).first() read, with SQL built once per
    process: each trailing send of a busy job built both queries anew, two a second per job and
    process, and that was a tenth of the web processes' CPU under a crowd (BENCHMARKS.md,
    "Live progress in one statement"). Values pass the fields' own converters (SQLite's decimals and
    dates), as the ORM would apply them; sums are ints, as the annotation's BigIntegerField."""
    sql, converters = _progress_query(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [job_id])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for i, (expression, chain) in enumerate(converters):
        for convert in chain:
            values[i] = convert(values[i], expression, connection)
    values[3], values[4], values[10], values[12] = int(values[3]), int(values[4]), int(values[10]), int(values[12])
    values[11] = money(Decimal(str(values[11])))  # SQLite sums decimals as floats
    return tuple(values)


@cache
def _progress_query(vendor: str) -> tuple[str, list[tuple[Any, list[Any]]]]:
    """The SQL of _progress_row for this database vendor, and each column's converters."""
    quote = connection.ops.quote_name
    job_model, tally_model, budget_model = (
        _model("jobs.Job"), _model("jobs.JobTally"), _model("billing.JobBudget")
    )
    job_fields = [job_model._meta.get_field(name) for name in ("organization", "status", "item_count")]
    budget_fields = [
        budget_model._meta.get_field(name)
        for name in ("budget", "items", "price_per_item", "charged", "settled_at")
    ]
    tally = quote(tally_model._meta.db_table)
    tally_job = quote(tally_model._meta.get_field("job").column)
    job_pk = quote(job_model._meta.pk.column)

    def tally_sum(field: str) -> str:
        column = quote(tally_model._meta.get_field(field).column)
        return f"COALESCE((SELECT SUM(t.{column}) FROM {tally} t WHERE t.{tally_job} = j.{job_pk}), 0)"

    item_model, charge_model = _model("jobs.Item"), _model("billing.ReviewCharge")

    def column(model: Any, field: str) -> str:
        return quote(model._meta.get_field(field).column)

    # Reopened-complete items and charged reviews exist only after an escrow addition (a
    # more-judgments or expert-review hold adds to `added`): most jobs never run these counts.
    added = f"b.{column(budget_model, 'added')} > 0"
    reopened = (
        f"CASE WHEN {added} THEN (SELECT COUNT(*) FROM {quote(item_model._meta.db_table)} i"
        f" WHERE i.{column(item_model, 'job')} = j.{job_pk} AND NOT i.{column(item_model, 'is_gold')}"
        f" AND NOT i.{column(item_model, 'is_complete')} AND i.{column(item_model, 'reopened_complete')})"
        " ELSE 0 END"
    )
    reviews = (
        f"CASE WHEN {added} THEN COALESCE((SELECT SUM(r.{column(charge_model, 'price')})"
        f" FROM {quote(charge_model._meta.db_table)} r WHERE r.{column(charge_model, 'job')} = j.{job_pk}"
        f" AND r.{column(charge_model, 'charged_at')} IS NOT NULL), 0) ELSE 0 END"
    )
    # The more judgments given of those asked for (billing.selectors.items_extra_given).
    greatest, least = ("GREATEST", "LEAST") if vendor == "postgresql" else ("MAX", "MIN")
    asked, count = f"i.{column(item_model, 'asked_judgments')}", f"i.{column(item_model, 'judgment_count')}"
    base = f"j.{column(job_model, 'overlap')} + i.{column(item_model, 'extra_judgments')} - {asked}"
    extra = (
        f"CASE WHEN {added} THEN COALESCE((SELECT SUM({greatest}(0, {least}({asked}, {count} - ({base}))))"
        f" FROM {quote(item_model._meta.db_table)} i WHERE i.{column(item_model, 'job')} = j.{job_pk}"
        f" AND NOT i.{column(item_model, 'is_gold')} AND {asked} > 0), 0) ELSE 0 END"
    )
    selected = (
        [f"j.{quote(field.column)}" for field in job_fields]
        + [tally_sum(TALLY_COLUMNS["completed_item_count"]), tally_sum(TALLY_COLUMNS["judgment_count"])]
        + [f"b.{quote(field.column)}" for field in budget_fields]
        + [reopened, reviews, extra, f"b.{column(budget_model, 'pay_per_judgment')}"]
    )
    sql = (
        f"SELECT {', '.join(selected)} FROM {quote(job_model._meta.db_table)} j "
        f"LEFT JOIN {quote(budget_model._meta.db_table)} b "
        f"ON b.{quote(budget_model._meta.get_field('job').column)} = j.{job_pk} "
        f"WHERE j.{job_pk} = %s"
    )
    converters: list[tuple[Any, list[Any]]] = []
    pay_field = [budget_model._meta.get_field("pay_per_judgment")]
    for alias, fields in (("j", job_fields), (None, [None, None]), ("b", budget_fields), (None, [None, None, None]),
                          ("b", pay_field)):
        for field in fields:
            if field is None:
                converters.append((None, []))
                continue
            column = field.get_col(alias)
            converters.append((column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)))
    return sql, converters


def job_organization(*, job_id: int) -> int | None:
    jobs = _model("jobs.Job").objects.filter(pk=job_id)
    return jobs.values_list("organization_id", flat=True).first()


def job_status(*, job_id: int, status: str) -> dict[str, Any]:
    return {"type": "job.status", "job": job_id, "status": status}


def job_consensus(*, run_id: int, estimate: Mapping[str, Any]) -> tuple[int, int, dict[str, Any]] | None:
    """(organization id, job id, message) for a succeeded run, or None.

    `estimate`: the job's expected accuracy as its page shows it, computed by quality when the
    run's results were stored (quality/estimate.py AccuracyEstimate.as_event; realtime imports no
    app): estimated_accuracy is the page's headline (held-out gold once enough of it is labelled,
    the model's own mean confidence before), estimate_basis says which, model_estimate is the
    model's own. The browser writes estimated_accuracy over the page's figure, so it must be
    the same figure.
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
    uncertain = (
        _model("quality.ItemResult")
        .objects.filter(run_id=run_id, item__is_gold=False, confidence__lt=below).count()
    )
    return run["job__organization_id"], run["job_id"], {
        "type": "job.consensus",
        "job": run["job_id"],
        "run": run_id,
        "estimated_accuracy": estimate.get("estimated_accuracy"),
        "estimate_basis": estimate.get("estimate_basis"),
        "model_estimate": estimate.get("model_estimate"),
        "items_uncertain": uncertain,
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
