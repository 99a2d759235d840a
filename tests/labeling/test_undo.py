"""Undoing the last answer: withdrawn, paid back, counted out, and the item is the worker's again.

The cast: Wendy labels an Acme job (overlap 3, pays 0.02 an answer) and undoes her last answer;
Walter labels the same items, and his answers can complete one under her.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from marketplace import flows
from marketplace.accounts.models import User
from marketplace.billing.audit import ledger_audit
from marketplace.billing.models import Earning, LedgerTransaction, TransactionKind
from marketplace.billing.posting import job_pay_post
from marketplace.billing.selectors import worker_money
from marketplace.errors import Conflict, NotFound
from marketplace.jobs.models import Item, Job
from marketplace.labeling.models import Judgment, JudgmentStatus, Lease, LeaseStatus
from marketplace.labeling.services import lease_claim
from marketplace.quality.models import WorkerJobStats, WorkerSkill
from tests.factories import open_job_with_items, publisher
from tests.labeling.helpers import post_json, signed_in

pytestmark = pytest.mark.django_db

PAY = Decimal("0.02")  # the factory job's reward_per_judgment: whole cents, so ranks pay alike


@pytest.fixture
def job(db: None) -> Job:
    return open_job_with_items(items=8, gold=2, overlap=3)


def answer(worker: User, job: Job, label: str = "cat") -> Judgment:
    """One next item + submit through the submit flow (pay, quality), as the page does."""
    lease = lease_claim(worker=worker, job=job)
    return flows.work_submit(worker=worker, lease_id=lease.pk, label=label).judgment


def owed(worker: User, job: Job) -> Decimal:
    """What the worker is owed, recomputed apart from the earnings: accepted answers × the pay."""
    return Judgment.objects.filter(worker=worker, job=job, status=JudgmentStatus.ACCEPTED).count() * PAY


def test_an_undone_answer_is_withdrawn_counted_out_and_its_item_is_the_workers_again(
    wendy: User, job: Job
) -> None:
    kept = answer(wendy, job)
    undone = answer(wendy, job)

    withdrawal = flows.work_undo(worker=wendy, judgment_id=undone.pk)

    assert Judgment.objects.get(pk=undone.pk).status == JudgmentStatus.WITHDRAWN
    assert Item.objects.get(pk=undone.item_id).judgment_count == 0
    job.refresh_from_db()
    assert job.judgment_count == 1  # the JobTally sums: Wendy's kept answer only
    lease = Lease.objects.get(pk=withdrawal.lease.pk)
    assert lease.status == LeaseStatus.ACTIVE and lease.expires_at > timezone.now()
    assert lease_claim(worker=wendy, job=job).pk == lease.pk  # her next item is that item again
    stats = WorkerJobStats.objects.get(job=job, worker=wendy)
    assert stats.judgments == 1 and kept.pk != undone.pk


def test_the_item_can_be_answered_again_after_an_undo(wendy: User, job: Job) -> None:
    undone = answer(wendy, job, "cat")
    withdrawal = flows.work_undo(worker=wendy, judgment_id=undone.pk)

    again = flows.work_submit(worker=wendy, lease_id=withdrawal.lease.pk, label="dog").judgment

    assert again.item_id == undone.item_id and again.label == "dog"
    assert Item.objects.get(pk=undone.item_id).judgment_count == 1
    assert owed(wendy, job) == PAY == worker_money(worker=wendy).pending


def test_undone_pay_goes_back_to_the_escrow_through_the_ledger_and_the_audit_stays_clean(
    wendy: User, job: Job
) -> None:
    answer(wendy, job)
    undone = answer(wendy, job)
    job_pay_post(job_id=job.pk)  # the pay is in Wendy's pending account already

    flows.work_undo(worker=wendy, judgment_id=undone.pk)

    earning = Earning.objects.get(judgment_id=undone.pk)
    assert earning.status == Earning.Status.REVERSED and earning.settled_transaction is not None
    assert earning.settled_transaction.kind == TransactionKind.JUDGMENT_PAY_REVERSE
    assert worker_money(worker=wendy).pending == owed(wendy, job) == PAY
    assert ledger_audit().violations == []
    call_command("billing_audit")  # exits non-zero on any violation


def test_pay_only_owed_when_undone_moves_no_money(wendy: User, job: Job) -> None:
    undone = answer(wendy, job)

    flows.work_undo(worker=wendy, judgment_id=undone.pk)

    assert Earning.objects.get(judgment_id=undone.pk).status == Earning.Status.REVERSED
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.JUDGMENT_PAY_REVERSE).exists()
    assert worker_money(worker=wendy).pending == owed(wendy, job) == Decimal("0.00")
    job_pay_post(job_id=job.pk)  # a later batch posts nothing for it
    assert worker_money(worker=wendy).pending == Decimal("0.00")
    assert ledger_audit().violations == []


def test_owed_pay_matches_an_independent_recount_after_answers_undos_and_answers_again(
    wendy: User, job: Job
) -> None:
    for round_ in range(3):
        answer(wendy, job)
        job_pay_post(job_id=job.pk)
        last = answer(wendy, job)
        if round_ != 1:
            job_pay_post(job_id=job.pk)  # posted or only owed: both come back
        withdrawal = flows.work_undo(worker=wendy, judgment_id=last.pk)
        flows.work_submit(worker=wendy, lease_id=withdrawal.lease.pk, label="dog")
    job_pay_post(job_id=job.pk)

    assert worker_money(worker=wendy).pending == owed(wendy, job) == 6 * PAY
    assert ledger_audit().violations == []


def test_undoing_the_answers_that_round_down_and_answering_again_earns_no_more_than_the_rule(
    wendy: User, db: None
) -> None:
    """At 0.025 an answer the answers pay 0.02, 0.03, 0.03, 0.02, ... (the remainder rule: after
    n answers exactly n × 0.025 rounded, half to even). Wendy undoes each answer that pays 0.02
    and answers the item again, hoping for a 0.03: the answers she keeps still bring the rule's."""
    job = open_job_with_items(items=12, overlap=3, reward_per_judgment=Decimal("0.0250"))
    for _ in range(5):
        judgment = answer(wendy, job)
        for _retry in range(3):
            if Earning.objects.get(judgment=judgment).amount != Decimal("0.02"):
                break
            lease = flows.work_undo(worker=wendy, judgment_id=judgment.pk).lease
            judgment = flows.work_submit(worker=wendy, lease_id=lease.pk, label="dog").judgment
    job_pay_post(job_id=job.pk)

    kept = Judgment.objects.filter(worker=wendy, job=job, status=JudgmentStatus.ACCEPTED).count()
    assert kept == 5
    rule = (kept * Decimal("0.025")).quantize(Decimal("0.01"))  # half to even: 0.125 -> 0.12
    assert worker_money(worker=wendy).pending == rule == Decimal("0.12")
    paid = Earning.objects.filter(judgment__worker=wendy, judgment__status=JudgmentStatus.ACCEPTED)
    assert sorted(paid.values_list("rank", flat=True)) == [1, 2, 3, 4, 5]
    assert ledger_audit().violations == []


def test_undoing_a_gold_answer_takes_it_out_of_the_gold_score_and_skill(wendy: User, db: None) -> None:
    job = open_job_with_items(items=1, gold=1, gold_label="cat", overlap=3)
    judged = answer_gold(wendy, job, "cat")
    assert judged.is_gold and judged.is_correct
    assert (WorkerJobStats.objects.get(job=job, worker=wendy).gold_seen, WorkerSkill.objects.get(worker=wendy).seen) == (1, 1)

    flows.work_undo(worker=wendy, judgment_id=judged.pk)

    stats = WorkerJobStats.objects.get(job=job, worker=wendy)
    assert (stats.gold_seen, stats.gold_correct) == (0, 0)
    assert WorkerSkill.objects.get(worker=wendy).seen == 0
    job.refresh_from_db()
    assert job.gold_judgment_count == 0


def answer_gold(worker: User, job: Job, label: str) -> Judgment:
    """Answer the job's gold item (claims serve gold by chance: this lease is handed over directly)."""
    gold_item = Item.objects.get(job=job, is_gold=True)
    lease = Lease.objects.create(
        job=job, item=gold_item, worker=worker, created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    return flows.work_submit(worker=worker, lease_id=lease.pk, label=label).judgment


def test_a_missed_gold_answer_whose_right_label_was_shown_cannot_be_undone(wendy: User, db: None) -> None:
    job = open_job_with_items(items=1, gold=1, gold_label="cat", quality_rules={"gold_feedback": True})
    missed = answer_gold(wendy, job, "dog")

    with pytest.raises(Conflict, match="You were shown the right answer"):
        flows.work_undo(worker=wendy, judgment_id=missed.pk)
    assert Judgment.objects.get(pk=missed.pk).status == JudgmentStatus.ACCEPTED
    assert WorkerJobStats.objects.get(job=job, worker=wendy).gold_seen == 1


def test_it_is_too_late_after_the_window(wendy: User, job: Job, settings: object) -> None:
    undone = answer(wendy, job)
    Judgment.objects.filter(pk=undone.pk).update(created_at=timezone.now() - timedelta(seconds=11))

    with pytest.raises(Conflict, match="Too late to undo: an answer can be undone for 10 seconds"):
        flows.work_undo(worker=wendy, judgment_id=undone.pk)
    assert Judgment.objects.get(pk=undone.pk).status == JudgmentStatus.ACCEPTED


def test_only_the_last_answer_can_be_undone_and_only_once(wendy: User, job: Job) -> None:
    first = answer(wendy, job)
    second = answer(wendy, job)

    with pytest.raises(Conflict, match="Only your last answer"):
        flows.work_undo(worker=wendy, judgment_id=first.pk)
    flows.work_undo(worker=wendy, judgment_id=second.pk)
    with pytest.raises(Conflict, match="undone already"):
        flows.work_undo(worker=wendy, judgment_id=second.pk)


def test_someone_elses_answer_cannot_be_undone(wendy: User, walter: User, job: Job) -> None:
    theirs = answer(walter, job)
    with pytest.raises(NotFound):
        flows.work_undo(worker=wendy, judgment_id=theirs.pk)


def test_an_item_another_worker_completed_keeps_the_answer(wendy: User, walter: User, ada: User, db: None) -> None:
    job = open_job_with_items(items=1, overlap=2)
    mine = answer(wendy, job)
    answer(walter, job)  # completes the item (and the job)

    with pytest.raises(Conflict, match="Another worker's answer completed this item"):
        flows.work_undo(worker=wendy, judgment_id=mine.pk)
    assert owed(wendy, job) == worker_money(worker=wendy).pending == PAY


def test_an_answer_that_completed_its_item_stays(wendy: User, db: None) -> None:
    job = open_job_with_items(items=2, overlap=1)
    mine = answer(wendy, job)
    with pytest.raises(Conflict, match="Your answer completed this item"):
        flows.work_undo(worker=wendy, judgment_id=mine.pk)


def test_a_cancelled_jobs_answers_cannot_be_undone(wendy: User, job: Job) -> None:
    mine = answer(wendy, job)
    flows.job_cancel(job=job, user=publisher(job.organization))
    with pytest.raises(Conflict):
        flows.work_undo(worker=wendy, judgment_id=mine.pk)
    assert ledger_audit().violations == []


# --- the labeling page's call


def test_the_page_undoes_the_answer_shows_its_item_again_and_gives_back_the_item_ahead(
    wendy: User, job: Job
) -> None:
    browser = signed_in(wendy)
    first = post_json(browser, reverse("work-label-next", args=[job.pk])).json()["next"]
    ahead = post_json(browser, reverse("work-label-next", args=[job.pk]), {"ahead_of": first["lease"]}).json()["next"]
    sent = post_json(browser, reverse("work-label-answer", args=[first["lease"]]),
                     {"label": "cat", "ahead_of": ahead["lease"]}).json()
    judgment = sent["submitted"]["judgment"]
    third = sent["next"]["lease"]

    reply = post_json(browser, reverse("work-label-undo", args=[judgment]), {"ahead": third})

    assert reply.status_code == 200
    body = reply.json()
    assert body["undone"] == judgment and body["next"]["item"] == first["item"]
    assert Lease.objects.get(pk=third).status == LeaseStatus.RELEASED
    live = Lease.objects.filter(worker=wendy, status=LeaseStatus.ACTIVE).values_list("pk", flat=True)
    assert sorted(live) == sorted([body["next"]["lease"], ahead["lease"]])


def test_the_page_says_why_an_undo_is_refused(wendy: User, job: Job) -> None:
    undone = answer(wendy, job)
    Judgment.objects.filter(pk=undone.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    reply = post_json(signed_in(wendy), reverse("work-label-undo", args=[undone.pk]))
    assert reply.status_code == 409
    assert "Too late to undo" in reply.json()["error"]["message"]


# --- the REST API's


def test_an_api_worker_undoes_and_answers_again(wendy: User, job: Job, client_for: object) -> None:
    api = client_for(wendy)  # type: ignore[operator]
    lease = api.post("/api/v1/work/next/", {"job": job.pk}, format="json").json()
    sent = api.post(f"/api/v1/work/leases/{lease['lease']}/submit/", {"label": "cat"}, format="json").json()

    undone = api.post(f"/api/v1/work/judgments/{sent['judgment']}/undo/")

    assert undone.status_code == 200
    assert undone.json()["status"] == "withdrawn" and undone.json()["lease"]["lease"] == lease["lease"]
    again = api.post(f"/api/v1/work/leases/{lease['lease']}/submit/", {"label": "dog"}, format="json")
    assert again.status_code == 201
    assert [j["label"] for j in api.get("/api/v1/work/judgments/").json()["results"]] == ["dog"]
    late = api.post(f"/api/v1/work/judgments/{sent['judgment']}/undo/")
    assert late.status_code == 409


def test_the_page_lists_its_keys_and_offers_u_only_where_no_label_took_it(wendy: User, db: None) -> None:
    plain = open_job_with_items(items=1)
    html = signed_in(wendy).get(reverse("work-label", args=[plain.pk])).content.decode()
    assert 'id="shortcuts"' in html and "Answer Dog" in html
    assert "Undo your last answer (for 10 seconds" in html and 'aria-keyshortcuts="Control+Z u"' in html

    labels = [{"key": "up", "name": "Up", "shortcut": "u"}, {"key": "down", "name": "Down", "shortcut": "d"}]
    taken = open_job_with_items(items=1, labels=labels)
    html = signed_in(wendy).get(reverse("work-label", args=[taken.pk])).content.decode()
    assert 'aria-keyshortcuts="Control+Z"' in html and "<kbd>u</kbd></th><td>Answer Up" in html
