"""The labeling page's answer says whether Undo would take it back (`undoable`), so the page
offers Undo only where a click works, and the flag tells a worker nothing a click would not.

The cast, as in test_undo_gold: Acme's job (overlap 2) has two regular items and one gold item,
each handed to a worker directly. Walter answers an item first, Wendy second: her answer
completes it (a gold item's answers are read in groups of the overlap, as if it were regular).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from tests.labeling.helpers import post_json, signed_in
from tests.labeling.test_undo_gold import ClientFor, hand, item_of, job, undo  # noqa: F401 (job: a fixture)

pytestmark = pytest.mark.django_db


def answer_on_the_page(worker: User, lease: int) -> dict[str, Any]:
    reply = post_json(signed_in(worker), reverse("work-label-answer", args=[lease]), {"label": "cat"})
    assert reply.status_code == 200, reply.content
    return dict(reply.json()["submitted"])


@pytest.mark.parametrize("gold", [False, True], ids=["regular", "gold"])
def test_an_answer_that_completed_its_item_is_not_offered_for_undo(
    wendy: User, walter: User, job: Job, client_for: ClientFor, gold: bool  # noqa: F811
) -> None:
    first = answer_on_the_page(walter, hand(walter, item_of(job, gold=gold)))
    completing = answer_on_the_page(wendy, hand(wendy, item_of(job, gold=gold)))

    assert first["undoable"] is True  # one of two: its item was still open
    assert completing["undoable"] is False
    refused = undo(client_for(wendy), completing["judgment"])  # what a click would have found
    assert (refused.status_code, refused.json()["error"]["message"]) == (
        409, "Your answer completed this item, so it can no longer be undone."
    )


def test_an_answer_offered_for_undo_is_undone_by_a_click(
    wendy: User, job: Job, client_for: ClientFor  # noqa: F811
) -> None:
    for gold in (False, True):
        sent = answer_on_the_page(wendy, hand(wendy, item_of(job, gold=gold)))
        assert sent["undoable"] is True
        assert undo(client_for(wendy), sent["judgment"]).status_code == 200

