"""Worker portal: a qualification's training and its exam, both keyboard-first (static/js/exam.js:
number keys pick labels, as on the labeling page) and both working without JavaScript.

Training shows one practice item at a time; after each answer the page says right or wrong, the
right answer and why. Nothing is scored or stored. The exam is one form of every question; its
answers never reach the page (selectors give id and data only), and a failed attempt's cooldown
is shown as "you can retry at HH:MM".
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from marketplace.accounts import selectors as accounts_selectors
from marketplace.accounts.models import Qualification, User
from marketplace.accounts.qualifications import exam_submit
from marketplace.errors import ApplicationError
from marketplace.web.access import worker_required
from marketplace.web.worker.labeling import item_parts

_DIGITS = "123456789"


def exam_label_keys(labels: list[dict[str, str]]) -> list[dict[str, str]]:
    """The exam's labels with the keys that pick each: its position's digit (1-9) and, where it
    has one that is not a digit, its own shortcut."""
    out = []
    for position, label in enumerate(labels):
        digit = _DIGITS[position] if position < len(_DIGITS) else ""
        shortcut = str(label.get("shortcut") or "")
        extra = shortcut if shortcut and not shortcut.isdigit() else ""
        out.append({"key": label["key"], "name": label.get("name") or label["key"], "digit": digit,
                    "shortcut": extra, "hotkeys": " ".join(k for k in (digit, extra) if k)})
    return out


def _visible(worker: User, qualification_id: int) -> Qualification:
    try:
        return accounts_selectors.qualification_get_visible(user=worker, qualification_id=qualification_id)
    except ApplicationError:
        raise Http404("No such qualification.") from None


def _exam_answers(request: HttpRequest, question_ids: list[int]) -> dict[str, str | None]:
    """Form fields q<id> -> {"<id>": label}; an unanswered question is sent as skipped (None)."""
    return {str(qid): (request.POST.get(f"q{qid}") or None) for qid in question_ids}


@worker_required
def work_exam(request: HttpRequest, qualification_id: int) -> HttpResponse:
    worker: User = request.user  # type: ignore[assignment]
    qualification = _visible(worker, qualification_id)
    questions = accounts_selectors.exam_questions_for_taking(qualification=qualification)
    if not questions:
        raise Http404("This qualification has no exam.")
    error, chosen = "", {}
    if request.method == "POST":
        chosen = _exam_answers(request, [q["id"] for q in questions])
        try:
            attempt = exam_submit(worker=worker, qualification=qualification, answers=chosen)
        except ApplicationError as exc:
            error = exc.message
        else:
            percent = f"{attempt.score * 100:.0f}%"
            if attempt.passed:
                messages.success(request, f"You passed with {percent}: {qualification.name} is yours.")
            else:
                messages.error(request, f"Not this time: you scored {percent}.")
            return redirect("work-exam", qualification_id=qualification.pk)
    status = accounts_selectors.exam_status(worker=worker, qualification=qualification)
    ctx = {
        "qualification": qualification,
        "status": status,
        "pass_percent": f"{qualification.pass_mark * 100:.0f}",
        "labels": exam_label_keys(qualification.exam_labels),
        "questions": [
            {"id": q["id"], "parts": item_parts(q["data"]), "chosen": chosen.get(str(q["id"]))}
            for q in questions
        ],
        "training_count": accounts_selectors.training_count(qualification=qualification),
        "error": error,
    }
    return render(request, "worker/exam.html", ctx, status=400 if error else 200)


def _position(raw: Any) -> int:
    try:
        return max(0, int(str(raw)[:6]))
    except ValueError:
        return 0


@worker_required
def work_training(request: HttpRequest, qualification_id: int) -> HttpResponse:
    """GET ?n=<position>: the practice item, answers hidden. POST (n, item, label): the same item
    with the verdict, the right answer and the explanation, and a link to the next one."""
    worker: User = request.user  # type: ignore[assignment]
    qualification = _visible(worker, qualification_id)
    total = accounts_selectors.training_count(qualification=qualification)
    if total == 0:
        raise Http404("This qualification has no training.")
    source = request.POST if request.method == "POST" else request.GET
    position = min(_position(source.get("n", 0)), total - 1)
    item = accounts_selectors.training_item_at(qualification=qualification, position=position)
    if item is None:  # removed while the worker practised: start again
        return redirect("work-training", qualification_id=qualification.pk)
    labels = exam_label_keys(qualification.exam_labels)
    names = {label["key"]: label["name"] for label in labels}
    result, error = None, ""
    if request.method == "POST":
        try:
            result = accounts_selectors.training_answer_check(
                qualification=qualification, item_id=item["id"], label=str(request.POST.get("label", ""))[:64]
            )
        except ApplicationError as exc:
            error = exc.message
    last = position + 1 >= total
    ctx = {
        "qualification": qualification,
        "item": {"id": item["id"], "parts": item_parts(item["data"])},
        "position": position, "number": position + 1, "total": total,
        "labels": labels,
        "result": result and {"correct": result.correct, "given": names.get(result.given, result.given),
                              "answer": names.get(result.answer, result.answer),
                              "explanation": result.explanation},
        "has_exam": qualification.question_count > 0,  # type: ignore[attr-defined]
        "next_url": f"{reverse('work-training', args=[qualification.pk])}?n={position + 1}",
        "last": last,
        "error": error,
    }
    return render(request, "worker/training.html", ctx, status=400 if error else 200)
