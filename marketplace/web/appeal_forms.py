"""The appeal decision form, shared by the client portal (its organization's jobs) and the staff
portal (every job): parse the POST, call the flow, say what happened. Scoping is the flow's:
quality.appeals.appeal_lock answers 404 outside the decider's organization."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest

from marketplace import flows_appeals
from marketplace.accounts.models import User
from marketplace.errors import ApplicationError
from marketplace.quality.models import APPEAL_REASON_MAX

GOLD_LABEL_MAX = 64


def appeal_decide_from_post(request: HttpRequest, appeal_id: int) -> int:
    """Decide from the form; returns the HTTP status to answer with (303 on success, else the
    error's 400/404/409, its message flashed)."""
    post = request.POST
    verdict = post.get("verdict", "")
    note = post.get("note", "")
    gold_action = post.get("gold_action", "")
    gold_label = post.get("gold_label", "")[: GOLD_LABEL_MAX + 1]
    if verdict not in ("uphold", "reject"):
        messages.error(request, "Choose to uphold or to reject the appeal.")
        return 400
    if len(note) > APPEAL_REASON_MAX:
        messages.error(request, f"The note is at most {APPEAL_REASON_MAX} characters.")
        return 400
    actor: User = request.user  # type: ignore[assignment]
    try:
        appeal = flows_appeals.appeal_decide(
            appeal_id=appeal_id, actor=actor, upheld=verdict == "uphold", note=note,
            gold_action=gold_action, gold_label=gold_label,
        )
    except ApplicationError as error:
        messages.error(request, str(error))
        return error.status
    if appeal.status == "upheld":
        lifted = len(appeal.outcome.get("lifted", []))
        messages.success(request, f"Appeal {appeal.pk} upheld. "
                                  + (f"{lifted} block(s) lifted, their withdrawn pay restored." if lifted else ""))
    else:
        messages.success(request, f"Appeal {appeal.pk} rejected; nothing changed.")
    return 303


def appeal_form_kept(request: HttpRequest, appeal_id: int) -> dict[str, Any]:
    """What the refused form held, for the page to show again in that appeal's form (a note typed
    before choosing a verdict must not be lost)."""
    post = request.POST
    return {"appeal": appeal_id, "verdict": post.get("verdict", ""), "note": post.get("note", "")[:APPEAL_REASON_MAX + 1],
            "gold_action": post.get("gold_action", ""), "gold_label": post.get("gold_label", "")[:GOLD_LABEL_MAX + 1]}
