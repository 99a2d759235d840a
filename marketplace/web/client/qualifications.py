"""Qualification pages: clients write their organization's (under /portal/qualifications/),
admins platform-wide ones (the same views under /staff/qualifications/, `audience="staff"`).

A qualification has a label set, a pass mark, a retry cooldown, exam questions and a training set.
Questions and practice items come three ways: typed in, uploaded (CSV/JSONL, all or nothing), or
copied from the gold of one of the requester's jobs (the gold label becomes the answer). A client
sees only its organization's qualifications here: another's is a 404, like a missing one.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_POST

from marketplace import flows_qualifications
from marketplace.accounts import selectors, training
from marketplace.accounts.exam_files import MAX_FILE_BYTES, exam_file_parse, format_from_name
from marketplace.accounts.models import Qualification, User
from marketplace.accounts.qualifications import (
    exam_question_remove,
    exam_questions_add,
    qualification_create,
    qualification_update,
)
from marketplace.errors import ApplicationError, NotFound
from marketplace.jobs.selectors import jobs_for_owner
from marketplace.web.access import client_or_admin_required
from marketplace.web.client.qualification_forms import (
    GoldCopyForm,
    QualificationForm,
    QuestionFileForm,
    QuestionForm,
    labels_from_text,
    labels_to_text,
)

GOLD_JOBS_LISTED = 100  # the newest jobs with gold offered for copying
TARGETS = ("exam", "training")


def _check_audience(request: HttpRequest, audience: str) -> User:
    """Clients use the portal's pages, admins the staff's; anyone else gets a 404."""
    user: User = request.user  # type: ignore[assignment]
    if (audience == "staff") != user.is_admin or (audience == "client" and not user.is_client):
        raise Http404("No such page.")
    return user


def _base(audience: str) -> str:
    return "staff/base.html" if audience == "staff" else "base.html"


def _managed(user: User, qualification_id: int) -> Qualification:
    try:
        return selectors.qualification_get_managed(user=user, qualification_id=qualification_id)
    except NotFound:
        raise Http404("No such qualification.") from None


def _jobs_with_labels(user: User) -> list[tuple[int, str]]:
    if not user.is_client:
        return []
    return list(jobs_for_owner(user=user).order_by("-created_at", "-id").values_list("pk", "title")[:GOLD_JOBS_LISTED])


def _jobs_with_gold(user: User) -> list[tuple[int, str]]:
    jobs = jobs_for_owner(user=user).filter(gold_item_count__gt=0).order_by("-created_at", "-id")
    return [(pk, f"{title} ({n} gold)") for pk, title, n in
            jobs.values_list("pk", "title", "gold_item_count")[:GOLD_JOBS_LISTED]]


def _message(exc: ApplicationError | ValidationError) -> str:
    return exc.message if isinstance(exc, ApplicationError) else " ".join(exc.messages)


@client_or_admin_required
def qualification_list(request: HttpRequest, audience: str = "client") -> HttpResponse:
    user = _check_audience(request, audience)
    ctx = {"qualifications": selectors.qualifications_managed_by(user=user), "audience": audience,
           "base": _base(audience)}
    return render(request, "client/qualifications.html", ctx)


def _labels(form: QualificationForm, user: User) -> list[dict[str, Any]]:
    """The typed labels, else the chosen job's (scoped: only the requester's jobs)."""
    typed = labels_from_text(form.cleaned_data["labels"])
    job_id = form.cleaned_data.get("labels_from_job")
    if typed or not job_id:
        return typed
    job = jobs_for_owner(user=user).filter(pk=job_id).values_list("labels", flat=True).first()
    return list(job or [])


@client_or_admin_required
def qualification_new(request: HttpRequest, audience: str = "client") -> HttpResponse:
    user = _check_audience(request, audience)
    form = QualificationForm(request.POST or None, jobs=_jobs_with_labels(user))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created = qualification_create(
                    user=user, name=form.cleaned_data["name"], description=form.cleaned_data["description"],
                    exam_labels=_labels(form, user), pass_mark=form.pass_mark(),
                    retry_cooldown_seconds=form.cleaned_data["retry_cooldown_seconds"],
                )
            except (ApplicationError, ValidationError) as exc:
                form.add_error(None, _message(exc))
            else:
                messages.success(request, f"Created “{created.name}”. Now add its exam questions and training.")
                return redirect(f"{audience}-qualification", qualification_id=created.pk)
        status = 400
    ctx = {"form": form, "audience": audience, "base": _base(audience), "qualification": None}
    return render(request, "client/qualification_new.html", ctx, status=status)


def _detail(request: HttpRequest, user: User, qualification: Qualification, audience: str, *,
            form: QualificationForm | None = None, problems: dict[str, str] | None = None,
            bound: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    """The qualification's page: its settings, then exam and training, each with three ways in."""
    labels = qualification.exam_labels
    gold_jobs = _jobs_with_gold(user)
    bound = bound or {}
    sections = []
    for target in TARGETS:
        is_training = target == "training"
        sections.append({
            "target": target,
            "title": "Training set" if is_training else "Exam questions",
            "typed": bound.get(f"{target}-typed") or QuestionForm(labels=labels, training=is_training,
                                                                   prefix=f"{target}-typed"),
            "upload": bound.get(f"{target}-upload") or QuestionFileForm(prefix=f"{target}-upload"),
            "gold": GoldCopyForm(jobs=gold_jobs, prefix=f"{target}-gold") if gold_jobs else None,
            "problem": (problems or {}).get(target, ""),
            "rows": (selectors.training_items_of(qualification=qualification) if is_training
                     else list(selectors.exam_questions_of(qualification=qualification))),
        })
    names = {c["key"]: c.get("name") or c["key"] for c in labels}
    initial = {"name": qualification.name, "description": qualification.description,
               "labels": labels_to_text(labels), "pass_percent": int(qualification.pass_mark * 100),
               "retry_cooldown_seconds": qualification.retry_cooldown_seconds}
    ctx = {
        "qualification": qualification, "audience": audience, "base": _base(audience),
        "form": form or QualificationForm(initial=initial), "sections": sections, "names": names,
        "has_labels": bool(labels),
    }
    return render(request, "client/qualification.html", ctx, status=status)


@client_or_admin_required
def qualification_page(request: HttpRequest, qualification_id: int, audience: str = "client") -> HttpResponse:
    """GET: the page; POST: save the settings (name, description, labels, pass mark, cooldown)."""
    user = _check_audience(request, audience)
    qualification = _managed(user, qualification_id)
    if request.method != "POST":
        return _detail(request, user, qualification, audience)
    form = QualificationForm(request.POST)
    if form.is_valid():
        try:
            qualification_update(
                user=user, qualification=qualification, name=form.cleaned_data["name"],
                description=form.cleaned_data["description"], exam_labels=_labels(form, user),
                pass_mark=form.pass_mark(), retry_cooldown_seconds=form.cleaned_data["retry_cooldown_seconds"],
            )
        except (ApplicationError, ValidationError) as exc:
            form.add_error(None, _message(exc))
        else:
            messages.success(request, "Saved.")
            return redirect(f"{audience}-qualification", qualification_id=qualification.pk)
    return _detail(request, user, qualification, audience, form=form, status=400)


def _add(user: User, qualification: Qualification, target: str, rows: list[dict[str, Any]]) -> int:
    if target == "training":
        return len(training.training_items_add(user=user, qualification=qualification, items=rows))
    exam_rows = [{"data": row["data"], "answer": row["answer"]} for row in rows]
    return len(exam_questions_add(user=user, qualification=qualification, questions=exam_rows))


@client_or_admin_required
@require_POST
def questions_add(request: HttpRequest, qualification_id: int, target: str, how: str,
                  audience: str = "client") -> HttpResponse:
    """Add exam questions or practice items: typed, uploaded, or copied from gold. All or none:
    a refusal re-renders the page (400) with one message and nothing saved."""
    user = _check_audience(request, audience)
    qualification = _managed(user, qualification_id)
    if target not in TARGETS:
        raise Http404("No such list.")
    is_training, prefix = target == "training", f"{target}-{how}"
    problem, bound, added = "", {}, 0
    try:
        if how == "typed":
            form = QuestionForm(request.POST, labels=qualification.exam_labels, training=is_training, prefix=prefix)
            bound[prefix] = form
            if not form.is_valid():
                raise ApplicationError("Check the question: " + " ".join(
                    f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
            added = _add(user, qualification, target, [form.row()])
        elif how == "upload":
            upload = QuestionFileForm(request.POST, request.FILES, prefix=prefix)
            if not upload.is_valid():
                raise ApplicationError("Choose a CSV or JSONL file to upload.")
            chosen = upload.cleaned_data["format"]
            file = upload.cleaned_data["file"]
            fmt = format_from_name(file.name) if chosen == "auto" else chosen
            # Read one byte over the limit: the parser refuses it without reading the rest.
            rows = exam_file_parse(payload=file.read(MAX_FILE_BYTES + 1), fmt=fmt,
                                   labels=frozenset(label["key"] for label in qualification.exam_labels))
            added = _add(user, qualification, target, rows)
        elif how == "gold":
            copy = GoldCopyForm(request.POST, jobs=_jobs_with_gold(user), prefix=prefix)
            if not copy.is_valid():
                raise ApplicationError("Choose one of your jobs with gold items.")
            added = flows_qualifications.qualification_gold_copy(user=user, qualification=qualification,
                                                  job_id=copy.cleaned_data["job"], training_set=is_training)
        else:
            raise Http404("No such way to add questions.")
    except ApplicationError as exc:
        problem = exc.message
    if problem:
        return _detail(request, user, qualification, audience, problems={target: problem}, bound=bound, status=400)
    noun = "practice item" if is_training else "exam question"
    messages.success(request, f"Added {added} {noun}{'' if added == 1 else 's'}.")
    return redirect(f"{audience}-qualification", qualification_id=qualification.pk)


@client_or_admin_required
@require_POST
def question_remove(request: HttpRequest, qualification_id: int, target: str, row_id: int,
                    audience: str = "client") -> HttpResponse:
    user = _check_audience(request, audience)
    qualification = _managed(user, qualification_id)
    try:
        if target == "training":
            training.training_item_remove(user=user, qualification=qualification, item_id=row_id)
        elif target == "exam":
            exam_question_remove(user=user, qualification=qualification, question_id=row_id)
        else:
            raise Http404("No such list.")
    except NotFound:
        raise Http404("No such question.") from None
    messages.success(request, "Removed.")
    return redirect(f"{audience}-qualification", qualification_id=qualification.pk)


def urls_for(audience: str) -> list[URLPattern]:
    """The pages under /portal/qualifications/ (audience "client") or /staff/qualifications/."""
    kw = {"audience": audience}
    return [
        path("qualifications/", qualification_list, kw, name=f"{audience}-qualifications"),
        path("qualifications/new/", qualification_new, kw, name=f"{audience}-qualification-new"),
        path("qualifications/<id:qualification_id>/", qualification_page, kw, name=f"{audience}-qualification"),
        path("qualifications/<id:qualification_id>/<slug:target>/add/<slug:how>/", questions_add, kw,
             name=f"{audience}-qualification-add"),
        path("qualifications/<id:qualification_id>/<slug:target>/<id:row_id>/remove/", question_remove, kw,
             name=f"{audience}-qualification-remove"),
    ]
