"""Client portal pages for jobs: the dashboard, a job's page, and its pause / resume / cancel
(deleting a draft and editing instructions: web/client/edits.py).

Every page is for clients only (@client_required) and looks jobs up through
jobs.selectors.job_get_for_owner, so another organization's job is a 404 like a missing one.
Live figures follow the shared contract: elements with data-job / data-field that live.js
updates from `job.progress` messages on /ws/client/.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from marketplace import flows
from marketplace.web import charts
from marketplace.accounts.models import User
from marketplace.web.access import CLIENT_SOCKET, client_or_admin_required, client_required, live_socket, staff_look
from marketplace.billing.models import Tier
from marketplace.billing.selectors import organization_balance
from marketplace.billing.statements import organization_open_escrows
from marketplace.errors import ApplicationError, NotFound
from marketplace.jobs import selectors
from marketplace.web.client import job_reads
from marketplace.jobs.models import Job, JobStatus
from marketplace.quality.label_quality import LabelQuality, job_label_quality
from marketplace.web.client.wizard import instructions_html

JOBS_PER_PAGE = 20


def _own_job(request: HttpRequest, job_id: int) -> Job:
    try:
        return selectors.job_get_for_owner(user=request.user, job_id=job_id)  # type: ignore[arg-type]
    except NotFound:
        raise Http404("No such job.") from None


def _pct(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}"


def _range(interval: tuple[float, float] | None) -> str:
    return "" if interval is None else f"{interval[0] * 100:.1f}–{interval[1] * 100:.1f}"


def _tier_names() -> dict[str, str]:
    return dict(Tier.objects.values_list("slug", "name"))


@client_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """/portal/jobs/: the organization's jobs with live progress."""
    user: User = request.user  # type: ignore[assignment]
    status = request.GET.get("status", "")
    page = Paginator(selectors.jobs_for_dashboard(user=user, status=status), JOBS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    tiers = _tier_names()
    rows = [
        {"job": job, "percent": job_reads.percent_done(job), "tier_name": tiers.get(job.tier, job.tier)}
        for job in page
    ]
    counts = selectors.job_status_counts(user=user)
    escrows = organization_open_escrows(organization=user.organization)  # type: ignore[arg-type]
    ctx = {
        "rows": rows,
        "page": page,
        "status": status if status in JobStatus.values else "",
        "filters": [("", "All", sum(counts.values()))]
        + [(value, label, counts[value]) for value, label in JobStatus.choices],
        "balance": organization_balance(organization=user.organization),  # type: ignore[arg-type]
        "escrow_total": sum((e.escrow for e in escrows), job_reads.ZERO),
        "running": counts[JobStatus.OPEN],
        # Not live_socket(): a client who is also a superuser counts as an admin there, and the
        # staff socket carries no organization feed, which is all this page listens to.
        "live_socket": CLIENT_SOCKET,
    }
    return render(request, "client/dashboard.html", ctx)


def _charts(job: Job, consensus: job_reads.Consensus, throughput: job_reads.Throughput) -> dict[str, Any]:
    names = job_reads.label_names(job)
    out: dict[str, Any] = {
        "throughput": charts.line_svg(
            throughput.points, title=f"Judgments per {throughput.bucket} since publication",
            unit=f"judgments/{throughput.bucket}", x_labels=throughput.tick_labels,
            x_title="date" if throughput.bucket == "day" else f"time ({timezone.get_current_timezone_name()})",
        ),
        "distribution": charts.bars_svg(
            consensus.distribution,
            title="Items per consensus label" if consensus.distribution_source == "consensus"
            else "Judgments per label (before the first consensus run)",
        ),
        "confusion": None,
    }
    if consensus.confusion is not None:
        labels = [names[key] for key in job.label_keys]
        out["confusion"] = charts.heatmap_svg(
            consensus.confusion, labels, labels,
            title="How the crowd answers each true label (pooled worker confusion, latest run)",
        )
    return out


def _label_quality_table(job: Job, figures: LabelQuality) -> list[dict[str, Any]]:
    """One block per source (delivered labels, then each model), one row per label, with counts."""
    names = {label["key"]: label.get("name") or label["key"] for label in job.labels}
    return [
        {
            "title": "Delivered labels" if source.source == "consensus"
            else "Workers' answers" if source.source == "judgments"
            else f"Model {source.name} {source.version}",
            "gold_items": source.gold_items,
            "accuracy_pct": _pct(source.accuracy),
            "label_accuracy_pct": _pct(source.label_accuracy),
            "answers": source.source == "judgments",
            "measure": source.measure,
            "rows": [
                {"label": names.get(f.label, f.label), "support": f.support,
                 "predicted": f.predicted, "precision_pct": _pct(f.precision),
                 "recall_pct": _pct(f.recall)}
                for f in source.labels
            ],
        }
        for source in figures.sources
    ]


def _figures_context(job: Job) -> dict[str, Any]:
    """What the job page's live part (templates/client/_job_figures.html) shows, read fresh."""
    consensus = job_reads.job_consensus(job=job)
    throughput = job_reads.job_throughput(job=job)
    money = job_reads.job_money(job=job)
    label_quality = job_label_quality(job=job)
    return {
        "job": job,
        "counts": selectors.job_counts(job=job),
        "percent": job_reads.percent_done(job),
        "consensus": consensus,
        "accuracy_pct": _pct(consensus.estimated_accuracy),
        "accuracy_range": _range(consensus.accuracy_interval),
        "model_pct": _pct(consensus.model_accuracy),
        "gold_pct": _pct(consensus.gold_accuracy),
        "gold_range": _range(consensus.gold_interval),
        "crowd_pct": _pct(consensus.crowd_accuracy),
        "models": [
            {"name": m.name, "version": m.version, "pct": _pct(m.accuracy), "items": m.items}
            for m in consensus.models
        ],
        "throughput": throughput,
        "money": money,
        # Until it settles, whether the promise will be measured: what the publish step said.
        "promise_plan": job_reads.job_promise_plan(job=job, overlap=job.overlap, max_overlap=job.max_overlap,
                                                   gold_rate=job.gold_rate)
        if money is not None and not money.settled else None,
        "charts": _charts(job, consensus, throughput),
        "label_quality": label_quality,
        "label_quality_table": _label_quality_table(job, label_quality),
        "invoice_url": reverse("job-invoice", args=[job.pk]) if money is not None else "",
    }


@client_or_admin_required
def job_page(request: HttpRequest, job_id: int) -> HttpResponse:
    """/portal/jobs/<id>/: progress, throughput, quality, cost and the job's controls. Admins
    reach every job from the staff overview, read-only (no controls), and each look is logged
    and listed here for the client."""
    job = _own_job(request, job_id)
    staff = staff_look(request, job)
    owner = not staff
    ctx = _figures_context(job)
    ctx.update({
        "staff_view": staff,
        "staff_views": selectors.job_staff_views(job=job) if owner else None,
        "tier": Tier.objects.filter(slug=job.tier).first(),
        "labels": job.labels,
        "instructions_html": instructions_html(job),
        "can_pause": owner and job.status == JobStatus.OPEN,
        "can_resume": owner and job.status == JobStatus.PAUSED,
        # A draft is deleted rather than cancelled (web/client/edits.py): it holds no money.
        "can_cancel": owner and job.status in (JobStatus.OPEN, JobStatus.PAUSED),
        "can_edit_instructions": owner and job.status in (JobStatus.OPEN, JobStatus.PAUSED),
        "is_draft": owner and job.status == JobStatus.DRAFT,
        "results_url": reverse("job-results", args=[job.pk]),
        "figures_url": reverse("client-job-figures", args=[job.pk]),
        "live_socket": live_socket(request),
    })
    return render(request, "client/job_page.html", ctx)


@client_or_admin_required
@never_cache
def job_figures(request: HttpRequest, job_id: int) -> HttpResponse:
    """/portal/jobs/<id>/figures/: the job page's live part alone, for jobpage.js to swap in
    when the job moves (same access and same figures as the page)."""
    job = _own_job(request, job_id)
    return render(request, "client/_job_figures.html", _figures_context(job))


def _transition(request: HttpRequest, job_id: int, *, action: Any, done: str) -> HttpResponse:
    job = _own_job(request, job_id)
    try:
        action(job=job, user=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("job-page", job_id=job.pk)


@client_required
@require_POST
def job_pause(request: HttpRequest, job_id: int) -> HttpResponse:
    return _transition(request, job_id, action=flows.job_pause,
                       done="Paused. Workers finish the items they hold; nobody gets new ones.")


@client_required
@require_POST
def job_resume(request: HttpRequest, job_id: int) -> HttpResponse:
    return _transition(request, job_id, action=flows.job_resume,
                       done="Resumed. Workers can pick the job up again.")


@client_required
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    """GET: what cancelling does to the money, and a confirm button. POST: cancel and settle."""
    job = _own_job(request, job_id)
    if request.method == "POST":
        try:
            flows.job_cancel(job=job, user=request.user)  # type: ignore[arg-type]
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Cancelled. Completed items are charged; the rest of the escrow "
                                      "is back in your balance.")
        return redirect("job-page", job_id=job.pk)
    ctx = {
        "job": job,
        "money": job_reads.job_money(job=job),
        "can_cancel": job.status in (JobStatus.DRAFT, JobStatus.OPEN, JobStatus.PAUSED),
    }
    return render(request, "client/job_cancel.html", ctx)
