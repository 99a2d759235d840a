"""The create-job wizard's last step (web/client/wizard.py has the others): every tier's quote
side by side, who may label, gold feedback and pre-labels, then publish. A refused publish saves
nothing; one refused only for money keeps the choices for after a top-up."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from marketplace import flows
from marketplace.accounts.models import Qualification, User
from marketplace.accounts.selectors import Reach, qualification_reach, qualifications_visible_to
from marketplace.billing.models import Tier
from marketplace.billing.selectors import job_quote, organization_balance, tier_list
from marketplace.billing.services import InsufficientFunds
from marketplace.errors import ApplicationError
from marketplace.jobs import services
from marketplace.jobs.models import Job
from marketplace.jobs.predicting import ModelSummary, prediction_models_of_job
from marketplace.jobs.requirements import job_reach_check
from marketplace.quality.rules import rules_for
from marketplace.web.access import client_required
from marketplace.web.client import forms, job_reads
from marketplace.web.client.wizard import draft_or_redirect, refusal_message, wizard_steps

QUOTE_WORKERS = 10  # the crowd size quotes assume for the expected time


def _duration(hours: Decimal) -> str:
    """Hours as a person reads them: '25 min', '3.5 h', '2.1 days'."""
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def _tier_fields(tier: Tier) -> dict[str, Any]:
    """The job takes the tier's overlap, gold rate and pay, so its price is the quoted one."""
    return {
        "tier": tier.slug,
        "overlap": tier.overlap,
        "max_overlap": tier.max_overlap,
        "target_confidence": tier.target_confidence,
        "gold_rate": tier.gold_rate,
        "reward_per_judgment": tier.pay_per_judgment,
    }


@client_required
def setup_publish(request: HttpRequest, job_id: int) -> HttpResponse:
    job = draft_or_redirect(request, job_id)
    if isinstance(job, HttpResponse):
        return job
    user: User = request.user  # type: ignore[assignment]
    tiers = tier_list()
    by_slug = {tier.slug: tier for tier in tiers}
    required = job.requirements.first()
    skills = list(qualifications_visible_to(user=user))
    reach = qualification_reach(qualification_ids=[q.pk for q in skills])
    # Offered: what a job could require and still start (held, or earnable by an exam), and the
    # draft's own choice whatever its reach, so the page shows what the draft says.
    offered = [q for q in skills if reach[q.pk].holders or reach[q.pk].has_exam
               or (required is not None and q.pk == required.qualification_id)]
    models = {-m.worker_id: m for m in prediction_models_of_job(job_id=job.pk)}  # by model id
    chosen_model = job.prelabel_model
    if chosen_model is not None and chosen_model.pk not in models:  # named before its predictions
        models[chosen_model.pk] = ModelSummary(-chosen_model.pk, chosen_model.name,
                                               chosen_model.version, 0)
    form = forms.TierForm(request.POST or None, tiers=[(t.slug, t.name) for t in tiers],
                          qualifications=[(q.pk, q.name) for q in offered],
                          models=[(pk, f"{m.name} {m.version} ({m.predictions:,} item"
                                       f"{'' if m.predictions == 1 else 's'} predicted)")
                                  for pk, m in models.items()],
                          initial={"tier": job.tier if job.tier in by_slug else "standard",
                                   "qualification": required.qualification_id if required else None,
                                   "min_score": forms.score_shown(required.min_score) if required
                                   else Decimal("0.80"),
                                   "gold_feedback": rules_for(job=job).gold_feedback,
                                   "prelabel_model": job.prelabel_model_id})
    shortfall: dict[str, str] | None = None
    error = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                short = _publish(job, user, form.cleaned_data, tier=by_slug[form.cleaned_data["tier"]],
                                 shown=models.get(form.cleaned_data["prelabel_model"]))
            except (ApplicationError, ValidationError) as exc:
                error = refusal_message(exc)
                status = 400
            else:
                if short is None:
                    messages.success(request, f"Published on the {by_slug[form.cleaned_data['tier']].name} tier. "
                                              "Workers can start now.")
                    for warning in job_reach_check(job=job):  # published: only warnings are left
                        messages.warning(request, warning)
                    return redirect("job-page", job_id=job.pk)
                shortfall = {key: str(short.details.get(key, "")) for key in ("needed", "balance", "missing")}
                error = short.message
                status = 402
        else:
            status = 400
        job.refresh_from_db()
    balance = organization_balance(organization=user.organization)  # type: ignore[arg-type]
    quotes = job_quote(items=job.item_count, workers=QUOTE_WORKERS) if job.item_count else []
    chosen = form["tier"].value() or job.tier
    ctx = {
        "job": job,
        "form": form,
        "quotes": [
            # Publishing escrows q.escrow (the price, or dynamic overlap's worst case): that is what
            # the balance must cover, though only completed items × price is ever charged.
            {"quote": q, "tier": by_slug[q.tier], "affordable": q.escrow <= balance, "chosen": q.tier == chosen,
             "short_by": max(q.escrow - balance, Decimal("0.00")),
             "expected_pct": f"{q.expected_accuracy * 100:.1f}", "promised_pct": f"{q.promised_accuracy * 100:.1f}",
             "expected_time": _duration(q.expected_hours), "promise": job_reads.job_promise_plan(
                 job=job, overlap=by_slug[q.tier].overlap, max_overlap=by_slug[q.tier].max_overlap,
                 gold_rate=by_slug[q.tier].gold_rate)}
            for q in quotes if q.tier in by_slug
        ],
        "workers": QUOTE_WORKERS,
        "balance": balance,
        "shortfall": shortfall,
        "error": error,
        "steps": wizard_steps(job, "publish"),
        "reach": _reach_rows(skills, reach, offered),
    }
    return render(request, "client/wizard_publish.html", ctx, status=status)


def _publish(job: Job, user: User, chosen: dict[str, Any], *, tier: Tier,
             shown: ModelSummary | None) -> InsufficientFunds | None:
    """Save the step's choices on the draft and publish it: None when published; the refusal
    when only money is missing (the draft keeps the choices, as the page says, for after a
    top-up). Any other refusal raises and saves nothing: one transaction, so a choice that was
    refused (a qualification nobody could meet) is not what the page shows next time."""
    skill = chosen["qualification"]
    requirements = [services.Requirement(qualification_id=skill, min_score=chosen["min_score"] or Decimal("0"))
                    ] if skill else []
    rules = {**job.quality_rules, "gold_feedback": chosen["gold_feedback"]}
    prelabels = None if shown is None else {"model": shown.name, "model_version": shown.version}
    with transaction.atomic():
        # flows: the tier and its pay are checked as the API checks them
        job = flows.job_update(job=job, user=user, requirements=requirements,
                               fields={**_tier_fields(tier), "quality_rules": rules, "show_prelabels": prelabels})
        try:
            flows.job_publish(job=job, user=user)
        except InsufficientFunds as short:  # its own savepoint rolled back; the choices stand
            return short
    return None


def _reach_rows(skills: list[Qualification], reach: dict[int, Reach], offered: list[Qualification]) -> list[dict[str, Any]]:
    """Each qualification the client may require, with how many workers hold it and whether
    workers can earn it by an exam: what decides whether a gated job ever starts. One nobody
    holds or can earn is not offered: the client's own is listed with what would make it
    usable (an exam); a platform-wide one, which the client cannot change, is left out."""
    usable = {q.pk for q in offered}
    return [{"id": q.pk, "name": q.name, "holders": reach[q.pk].holders, "has_exam": reach[q.pk].has_exam,
             "mine": q.owner_id is not None, "offered": q.pk in usable}
            for q in skills if q.pk in usable or q.owner_id is not None]
