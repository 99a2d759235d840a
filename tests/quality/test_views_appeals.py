"""The appeal pages: the worker files and follows appeals at /work/appeals/; Acme's client
decides at /portal/appeals/; an admin decides any at /staff/appeals/ and the withdrawals held
over the cap; an admin suspends a worker from the staff worker page.

Wendy is blocked by the gold rule in Acme's job; Alice is Acme's client; Carol is Globex's
client and sees none of Acme's appeals; Ada is an admin.
"""

from __future__ import annotations

import contextlib
import re
from decimal import Decimal

import pytest
from django.test import Client

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.jobs.exporting import worker_pseudonym
from marketplace.jobs.models import Job
from marketplace.labeling.models import JobBlock
from marketplace.labeling.services import lease_claim
from marketplace.errors import NotQualified
from marketplace.quality.models import APPEAL_REASON_MAX, Appeal, WithdrawalReview
from tests.factories import ClientFactory, open_job_with_items
from tests.quality.worker_helpers import answer_gold, answer_regular, gold_job

pytestmark = pytest.mark.django_db
RULES = {"min_gold_answers": 3, "gold_accuracy_floor": "0.5", "gold_feedback": True}


def _as(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def blocked(wendy: User, walter: User) -> Job:
    job = gold_job(quality_rules=RULES, title="Animals")
    answer_regular(walter, job, count=3)
    answer_gold(wendy, job, right=0, wrong=3)
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()
    return job


def test_a_blocked_worker_files_an_appeal_and_follows_it(wendy: User, blocked: Job) -> None:
    page = _as(wendy).get("/work/appeals/")
    assert page.status_code == 200
    assert f'value="block:{blocked.pk}"' in page.content.decode()
    assert b"gold:" in page.content  # her missed check items, in a job that shows gold feedback
    assert "the gold answer is Cat." in page.content.decode()  # the label's name, as she saw it labeling

    filed = _as(wendy).post("/work/appeals/new/", {"subject": f"block:{blocked.pk}", "reason": "The gold showed dogs."})
    assert filed.status_code == 302
    appeal = Appeal.objects.get(worker=wendy)
    assert (appeal.kind, appeal.status, appeal.job_id) == ("block", "open", blocked.pk)
    page = _as(wendy).get("/work/appeals/").content.decode()
    assert "The gold showed dogs." in page and f'value="block:{blocked.pk}"' not in page  # no second one


def _block_state(review: WithdrawalReview, ada: User) -> str:
    """What the staff page says of the review, its block's state included, as one line of text."""
    page = _as(ada).get("/staff/appeals/").content.decode()
    form = page[page.index(f'data-review="{review.pk}"'):]
    said = form[form.index("<p>"):form.index("</p>")]
    return " ".join(re.sub(r"<[^>]+>", " ", said).split())


def test_the_staff_page_says_what_became_of_a_held_withdrawals_block(wendy: User, ada: User, blocked: Job) -> None:
    review = WithdrawalReview.objects.get(job=blocked, worker=wendy)  # the default cap held it
    assert _block_state(review, ada).endswith("the block stands either way.")

    flows.worker_unblock(job=blocked, worker=wendy, reason="Looking at this later.", actor=ada)
    lifted = _block_state(review, ada)
    assert "lifted" in lifted and "they may work in this job again either way" in lifted
    assert "stands" not in lifted  # the block is gone: it does not stand either way

    with contextlib.suppress(NotQualified):  # the rule blocks her again, a block of its own
        answer_gold(wendy, blocked, right=0, wrong=3)
    assert JobBlock.objects.filter(job=blocked, worker=wendy).exists()
    again = _block_state(review, ada)
    assert "blocked again" in again and "that later block stands either way" in again
    assert "only the pay of the answers the first block dropped" in again


def test_the_appeal_form_answers_bad_input_with_a_4xx(wendy: User, walter: User, blocked: Job) -> None:
    too_long = _as(wendy).post("/work/appeals/new/", {"subject": f"block:{blocked.pk}", "reason": "x" * (APPEAL_REASON_MAX + 1)})
    assert too_long.status_code == 400 and b"at most" in too_long.content
    assert _as(wendy).post("/work/appeals/new/", {"subject": "nonsense", "reason": "why"}).status_code == 400
    assert _as(walter).post("/work/appeals/new/", {"subject": f"block:{blocked.pk}", "reason": "me"}).status_code == 404
    assert _as(wendy).post("/work/appeals/new/", {"subject": f"block:{blocked.pk}", "reason": "one"}).status_code == 302
    second = _as(wendy).post("/work/appeals/new/", {"subject": f"block:{blocked.pk}", "reason": "two"})
    assert second.status_code == 409
    assert Appeal.objects.filter(worker=wendy).count() == 1


def test_the_jobs_client_upholds_and_another_organization_sees_nothing(
    wendy: User, carol: User, blocked: Job, settings: object
) -> None:
    alice = ClientFactory(username="alice", organization=blocked.organization)
    appeal = Appeal.objects.create(worker=wendy, job=blocked, kind="block", subject=f"block:{blocked.pk}",
                                   reason="Please check the gold.")
    assert "Please check the gold." in _as(alice).get("/portal/appeals/").content.decode()
    assert "Please check the gold." not in _as(carol).get("/portal/appeals/").content.decode()
    assert _as(carol).post(f"/portal/appeals/{appeal.pk}/decide/", {"verdict": "uphold"}).status_code == 404
    assert _as(wendy).post(f"/portal/appeals/{appeal.pk}/decide/", {"verdict": "uphold"}).status_code == 404
    assert _as(alice).post(f"/portal/appeals/{appeal.pk}/decide/", {"verdict": "maybe"}).status_code == 400

    decided = _as(alice).post(f"/portal/appeals/{appeal.pk}/decide/", {"verdict": "uphold", "note": "Our mistake."})

    assert decided.status_code == 302
    appeal.refresh_from_db()
    assert appeal.status == "upheld" and appeal.decided_by == alice
    assert not JobBlock.objects.filter(job=blocked, worker=wendy).exists()
    assert _as(alice).post(f"/portal/appeals/{appeal.pk}/decide/", {"verdict": "reject"}).status_code == 409


def test_the_client_sees_the_worker_under_the_jobs_pseudonym_and_staff_see_the_username(
    wendy: User, ada: User, blocked: Job
) -> None:
    alice = ClientFactory(username="alice", organization=blocked.organization)
    Appeal.objects.create(worker=wendy, job=blocked, kind="block", subject=f"block:{blocked.pk}",
                          reason="Please check the gold.")
    client_page = _as(alice).get("/portal/appeals/").content.decode()
    shown = worker_pseudonym(job_id=blocked.pk, worker_id=wendy.pk)  # as in the job's exports
    assert f'by worker <span class="mono" data-field="worker">{shown}</span>' in client_page
    assert "wendy" not in client_page
    assert ">wendy</a>, filed" in _as(ada).get("/staff/appeals/").content.decode()


def test_the_client_reads_an_admins_decision_as_quorum_staffs_and_a_colleagues_by_name(
    wendy: User, ada: User, blocked: Job
) -> None:
    alice = ClientFactory(username="alice", organization=blocked.organization)
    bob = ClientFactory(username="bob-acme", organization=blocked.organization)
    by_ada = Appeal.objects.create(worker=wendy, job=blocked, kind="block", subject=f"block:{blocked.pk}",
                                   reason="First look.")
    assert _as(ada).post(f"/staff/appeals/{by_ada.pk}/decide/", {"verdict": "reject"}).status_code == 302
    by_bob = Appeal.objects.create(worker=wendy, job=blocked, kind="block", subject=f"block:{blocked.pk}",
                                   reason="Second look.")
    assert _as(bob).post(f"/portal/appeals/{by_bob.pk}/decide/", {"verdict": "reject"}).status_code == 302

    client_page = _as(alice).get("/portal/appeals/").content.decode()
    assert "One card per appeal" not in client_page  # the template's comment stays in the template
    assert "by Quorum staff" in client_page and ada.username not in client_page
    assert "by bob-acme" in client_page
    assert f"by {ada.username}" in _as(ada).get("/staff/appeals/?status=rejected").content.decode()


def test_staff_see_open_appeals_and_decide_held_withdrawals(wendy: User, ada: User, blocked: Job) -> None:
    review = WithdrawalReview.objects.get(job=blocked, worker=wendy)  # the default cap held it
    Appeal.objects.create(worker=wendy, job=blocked, kind="block", subject=f"block:{blocked.pk}", reason="Unfair!")
    page = _as(ada).get("/staff/appeals/")
    assert page.status_code == 200
    assert b"Unfair!" in page.content and f'data-review="{review.pk}"'.encode() in page.content
    assert _as(wendy).get("/staff/appeals/").status_code == 404

    assert _as(ada).post(f"/staff/withdrawals/{review.pk}/decide/", {"verdict": "approve"}).status_code == 302
    assert WithdrawalReview.objects.get(pk=review.pk).status == "approved"
    assert _as(ada).post(f"/staff/withdrawals/{review.pk}/decide/", {"verdict": "dismiss"}).status_code == 409


def test_a_suspended_worker_claims_nothing_anywhere_until_staff_lift_it(wendy: User, ada: User) -> None:
    job = open_job_with_items(items=3)
    held = lease_claim(worker=wendy, job=job)
    refused = _as(ada).post(f"/staff/workers/{wendy.pk}/suspend/", {"reason": "  ", "evidence": ""})
    assert refused.status_code == 400
    too_long = _as(ada).post(f"/staff/workers/{wendy.pk}/suspend/", {"reason": "r", "evidence": "e" * 2001})
    assert too_long.status_code == 400
    done = _as(ada).post(f"/staff/workers/{wendy.pk}/suspend/",
                         {"reason": "Copies answers from a partner", "evidence": "jobs 4 and 9: 98% agreement"})
    assert done.status_code == 302
    held.refresh_from_db()
    assert held.status == "released"  # her item is free for others at once
    page = _as(ada).get(f"/staff/workers/{wendy.pk}/").content.decode()
    assert "Copies answers from a partner" in page and "jobs 4 and 9: 98% agreement" in page
    wendy.refresh_from_db()
    with pytest.raises(NotQualified):
        lease_claim(worker=wendy, job=job)
    assert _as(ada).post(f"/staff/workers/{wendy.pk}/suspend/", {"reason": "again"}).status_code == 409

    lifted = _as(ada).post(f"/staff/workers/{wendy.pk}/unsuspend/", {"note": "Partner turned out to be her sister"})
    assert lifted.status_code == 302
    wendy.refresh_from_db()
    assert wendy.suspended_at is None
    assert lease_claim(worker=wendy, job=job) is not None
    assert _as(wendy).post(f"/staff/workers/{wendy.pk}/suspend/", {"reason": "x"}).status_code == 404
    # Lifted, the suspension stays on the record: why, on what evidence, who lifted it and why.
    page = _as(ada).get(f"/staff/workers/{wendy.pk}/").content.decode()
    record = page[page.index("data-suspension-history"):]
    assert "Copies answers from a partner" in record and "jobs 4 and 9: 98% agreement" in record
    assert "Partner turned out to be her sister" in record and record.count("ada") >= 2


def test_the_cap_is_a_setting(settings: object) -> None:
    assert settings.QUORUM_WITHDRAW_REVIEW_SHARE == Decimal("0.50")  # type: ignore[attr-defined]


def test_a_worker_files_and_lists_appeals_over_the_api(wendy: User, walter: User, blocked: Job, client_for: object) -> None:
    api = client_for(wendy)  # type: ignore[operator]
    too_long = api.post("/api/v1/me/appeals/", {"kind": "block", "job": blocked.pk, "reason": "x" * (APPEAL_REASON_MAX + 1)},
                        format="json")
    assert too_long.status_code == 400
    assert api.post("/api/v1/me/appeals/", {"kind": "block", "job": blocked.pk, "reason": "ok", "extra": 1},
                    format="json").status_code == 400
    filed = api.post("/api/v1/me/appeals/", {"kind": "block", "job": blocked.pk, "reason": "Gold was wrong."}, format="json")
    assert filed.status_code == 201 and filed.json()["status"] == "open"
    again = api.post("/api/v1/me/appeals/", {"kind": "block", "job": blocked.pk, "reason": "Again."}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    listed = api.get("/api/v1/me/appeals/").json()
    assert [a["id"] for a in listed["results"]] == [filed.json()["id"]]
    other = client_for(walter)  # type: ignore[operator]
    assert other.get("/api/v1/me/appeals/").json()["results"] == []
    assert other.post("/api/v1/me/appeals/", {"kind": "block", "job": blocked.pk, "reason": "me"},
                      format="json").status_code == 404


def test_the_client_retires_a_gold_item_from_the_appeals_page(wendy: User, blocked: Job) -> None:
    from marketplace.jobs.models import GoldAnswer
    from marketplace.labeling.models import Judgment

    alice = ClientFactory(username="alice", organization=blocked.organization)
    missed = Judgment.objects.filter(worker=wendy, job=blocked, is_gold=True, is_correct=False).first()
    assert missed is not None
    filed = _as(wendy).post("/work/appeals/new/", {"subject": f"gold:{missed.pk}", "reason": "It is a cat and a dog."})
    assert filed.status_code == 302
    appeal = Appeal.objects.get(worker=wendy, kind="gold")
    page = _as(alice).get("/portal/appeals/").content.decode()
    assert "It is a cat and a dog." in page and 'name="gold_action"' in page
    # Upholding a gold appeal needs a choice of what to do with the item.
    assert _as(alice).post(f"/portal/appeals/{appeal.pk}/decide/", {"verdict": "uphold"}).status_code == 400
    decided = _as(alice).post(f"/portal/appeals/{appeal.pk}/decide/", {"verdict": "uphold", "gold_action": "retire"})
    assert decided.status_code == 302
    assert not GoldAnswer.objects.filter(item_id=missed.item_id).exists()
    assert Appeal.objects.get(pk=appeal.pk).gold_action == "retired"


def test_a_decision_refused_for_a_missing_choice_keeps_the_note_typed(wendy: User, ada: User, blocked: Job) -> None:
    appeal = Appeal.objects.create(worker=wendy, job=blocked, kind="block", subject=f"block:{blocked.pk}",
                                   reason="Unfair!")
    note = "Looked at all three: the gold <was> right."
    refused = _as(ada).post(f"/staff/appeals/{appeal.pk}/decide/", {"note": note})
    page = refused.content.decode()
    assert refused.status_code == 400 and "Choose to uphold or to reject the appeal." in page
    assert f'rows="2">{note.replace("<", "&lt;").replace(">", "&gt;")}</textarea>' in page
    assert Appeal.objects.get(pk=appeal.pk).status == "open"


def test_a_client_decision_refused_keeps_the_verdict_and_the_note(wendy: User, blocked: Job) -> None:
    alice = ClientFactory(username="alice", organization=blocked.organization)
    appeal = Appeal.objects.create(worker=wendy, job=blocked, kind="block", subject=f"block:{blocked.pk}",
                                   reason="Unfair!")
    refused = _as(alice).post(f"/portal/appeals/{appeal.pk}/decide/", {"verdict": "reject", "note": "x" * (APPEAL_REASON_MAX + 1)})
    page = refused.content.decode()
    assert refused.status_code == 400
    assert f'id="rej-{appeal.pk}" name="verdict" value="reject" checked>' in page
    assert "x" * (APPEAL_REASON_MAX + 1) in page  # all of it, to shorten rather than retype
