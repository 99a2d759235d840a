"""The worker's own quality page: gold accuracy with its 90% interval, agreement with the
consensus, answer speed, per job; their quality events; and recent gold feedback.

Only the worker's own figures (selectors take request.user's id). Gold answers appear only as
feedback on check items the worker has already answered *and* only in jobs whose quality rules
show feedback (the labeling page shows the same after a miss): elsewhere a list of past check
items would tell workers which items are gold. Event evidence is never shown (it lists gold
items with their right labels). In jobs that hide gold feedback the counts are late, in
steps (quality/own_figures.py), and the page says up to when they count.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from marketplace.accounts.models import User
from marketplace.web.access import worker_required
from marketplace.web.charts import bars_svg
from marketplace.jobs.models import GoldAnswer, Job
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality import own_figures, selectors
from marketplace.quality.rules import rules_for
from marketplace.quality.scoring import label_decisions
from marketplace.quality.selectors import WorkerQuality
from marketplace.quality.services import DROP_POLICY

FEEDBACK_ROWS = 20
EVENT_ROWS = 50


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f}%"


def _figures(q: WorkerQuality) -> dict[str, Any]:
    low, high = q.gold.low, q.gold.high
    return {
        "judgments": q.judgments, "gold_seen": q.gold.seen, "gold_correct": q.gold.correct,
        "gold": _percent(q.gold.smoothed) if q.gold.seen else "",
        "interval": f"{low * 100:.0f}–{high * 100:.0f}%" if q.gold.seen else "",
        "agreement": _percent(q.agreement), "agreement_judgments": q.agreement_judgments,
        "ds": _percent(q.ds_accuracy),
        "speed": "" if q.median_seconds is None else f"{q.median_seconds:.1f} s",
        "flagged": q.flagged_fast_at is not None, "blocked": q.blocked,
        # A multi-label job: gold_seen/gold_correct are label decisions; the exact sets beside them.
        "per_label": q.gold_exact_sets is not None,
        "exact_sets": "" if q.gold_exact_sets is None else f"{q.gold_exact_sets.correct}/{q.gold_exact_sets.seen}",
        "counted_before": q.counted_before,  # None: live
    }


def period_text(seconds: int) -> str:
    """The lag in words: "an hour", "2 hours", "30 minutes", "45 seconds"."""
    for size, one, many in ((3600, "an hour", "hours"), (60, "a minute", "minutes")):
        if seconds % size == 0:
            return one if seconds == size else f"{seconds // size} {many}"
    return "a second" if seconds == 1 else f"{seconds} seconds"


def _gold_feedback(worker: User) -> list[dict[str, Any]]:
    """The worker's latest missed check items in jobs that show feedback, with the right label.

    Three queries: the missed judgments (with job and item), then their gold answers. (A
    multi-step read: it belongs in quality/selectors.py, which this page's owner does not own.)
    """
    missed = list(
        Judgment.objects.filter(worker=worker, is_gold=True, is_correct=False, status=JudgmentStatus.ACCEPTED)
        .select_related("job", "item").order_by("-id")[:FEEDBACK_ROWS * 5]
    )
    shown: dict[int, bool] = {}
    rows = []
    for judgment in missed:
        job: Job = judgment.job
        if job.pk not in shown:
            shown[job.pk] = rules_for(job=job).gold_feedback
        if shown[job.pk]:
            rows.append(judgment)
        if len(rows) == FEEDBACK_ROWS:
            break
    gold = {
        g["item_id"]: g for g in GoldAnswer.objects.filter(item_id__in=[j.item_id for j in rows])
        .values("item_id", "label", "labels", "explanation")
    }
    out = []
    for judgment in rows:
        answer = gold.get(judgment.item_id)
        if answer is None:
            continue
        names = {c["key"]: c.get("name") or c["key"] for c in judgment.job.labels}
        data = judgment.item.data if isinstance(judgment.item.data, dict) else {}
        text = data.get("text") if isinstance(data.get("text"), str) else ""
        if answer["labels"] is not None:  # multi-label: the sets, and the labels decided wrong
            yours = ", ".join(names.get(k, k) for k in judgment.labels or []) or "none"
            right = ", ".join(names.get(k, k) for k in answer["labels"]) or "none"
            decided = label_decisions(answered=judgment.labels or [], gold=answer["labels"], keys=list(names))
            wrong = ", ".join(names[k] for k in decided.wrong)
        else:
            yours, right = names.get(judgment.label, judgment.label), names.get(answer["label"], answer["label"])
            wrong = ""
        out.append({
            "job": judgment.job.title, "text": text[:200], "when": judgment.created_at,
            "yours": yours, "right": right, "wrong": wrong, "explanation": answer["explanation"],
        })
    return out


@worker_required
def quality(request: HttpRequest) -> HttpResponse:
    """/work/quality/"""
    worker: User = request.user  # type: ignore[assignment]
    # As the worker may see them: late in jobs that hide gold feedback (quality/own_figures.py).
    per_job = selectors.worker_quality_by_job(worker_id=worker.pk, as_shown=True)
    titles = dict(Job.objects.filter(pk__in=[q.job_id for q in per_job]).values_list("pk", "title"))
    jobs = [{"title": titles.get(q.job_id, ""), **_figures(q)} for q in per_job]
    scored = [(titles.get(q.job_id, ""), q.gold.smoothed * 100) for q in per_job if q.gold.seen]
    ctx = {
        "overall": _figures(selectors.worker_quality_overall(worker_id=worker.pk, as_shown=True)),
        "lag": (lag := period_text(own_figures.lag_seconds())),
        "steps": f"once {lag}" if lag.startswith("a") else f"every {lag}",  # once an hour, every 2 hours
        "jobs": jobs,
        "chart": bars_svg(scored[:12], title="Gold accuracy per job (%)") if scored else None,
        "events": [
            {"kind": e.get_kind_display(), "job": titles.get(e.job_id or 0, ""), "reason": e.reason,
             "created_at": e.created_at}
            for e in selectors.quality_events(worker_id=worker.pk, limit=EVENT_ROWS)
        ],
        "feedback": _gold_feedback(worker),
        "policy": DROP_POLICY,
    }
    return render(request, "worker/quality.html", ctx)
