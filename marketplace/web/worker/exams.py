"""Worker portal: a qualification's training and its exam, both keyboard-first (static/js/exam.js:
number keys pick labels, as on the labeling page) and both working without JavaScript.

Training shows one practice item at a time; after each answer the page says right or wrong, the
right answer and why. Nothing is scored or stored. The exam is one form of every question; its
answers never reach the page (selectors give id and data only), and a failed attempt's cooldown
is shown as "you can retry at HH:MM". A submission leaving a question unanswered is refused (400,
the answers given kept, the unanswered questions named and marked): it is no attempt.

Scores are shown as "2 of 3 right (66.7%)" next to the exact pass mark (score_percent).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
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
from marketplace.web.worker.items import item_parts

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


def share_percent(share: Decimal, places: int) -> str:
    """0.67 -> "67%", 0.6667 -> "66.67%": a share in [0, 1] with at most `places` decimals of percent."""
    shown = (share * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{shown.normalize():f}%"


def score_percent(score: Decimal, *, pass_mark: Decimal, passed: bool) -> str:
    """An attempt's score with one decimal (2 of 3 right: "66.7%"), unless rounding would put it on
    the wrong side of the pass mark (66.66% failing a 66.67% mark would read "66.7%"): then the
    stored score's own 2 decimals, which never cross it (scores are stored rounded down)."""
    shown = (score * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if passed != (shown >= pass_mark * 100):
        return share_percent(score, 2)
    return f"{shown.normalize():f}%"


def right_count(score: Decimal, question_count: int) -> int:
    """How many answers were right, from the score (stored to 4 places, rounded down: exact up to
    the 1,000 questions an exam may have)."""
    return int((score * question_count).quantize(Decimal(1), rounding=ROUND_HALF_UP))


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
    error, chosen, unanswered = "", {}, set()
    pass_mark = qualification.pass_mark
    if request.method == "POST":
        chosen = _exam_answers(request, [q["id"] for q in questions])
        try:
            attempt = exam_submit(worker=worker, qualification=qualification, answers=chosen)
        except ApplicationError as exc:  # an unanswered question, the cooldown, a label not offered
            error, unanswered = exc.message, set(exc.details.get("unanswered_questions", []))
        else:
            result = (f"{right_count(attempt.score, len(questions))} of {len(questions)} right "
                      f"({score_percent(attempt.score, pass_mark=pass_mark, passed=attempt.passed)})")
            if attempt.passed:
                messages.success(request, f"You passed with {result}: {qualification.name} is yours.")
            else:
                messages.error(request, f"Not this time: {result}; the pass mark is {share_percent(pass_mark, 2)}.")
            return redirect("work-exam", qualification_id=qualification.pk)
    status = accounts_selectors.exam_status(worker=worker, qualification=qualification)
    last = status.last_attempt
    ctx = {
        "qualification": qualification,
        "status": status,
        "pass_percent": share_percent(pass_mark, 2),
        "last_score": last and score_percent(last.score, pass_mark=pass_mark, passed=last.passed),
        "labels": exam_label_keys(qualification.exam_labels),
        "questions": [
            {"id": q["id"], "parts": item_parts(q["data"]), "chosen": chosen.get(str(q["id"])),
             "unanswered": q["id"] in unanswered}
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
