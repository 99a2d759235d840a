"""Appeals end to end: a worker blocked by the gold rule appeals, the job's client upholds, the
block is lifted and the withdrawn pay comes back through the ledger; gold appeals retire or
correct an item and rescore; who may decide; what a worker may not file.

Wendy works in Acme's job and is blocked by the gold rule; Walter works beside her; Alice is
Acme's client and decides its appeals; Carol is Globex's client and must see none of them; Ada
is an admin.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum

from marketplace import flows, flows_appeals
from marketplace.accounts.models import User
from marketplace.billing.audit import ledger_audit
from marketplace.billing import restoring
from marketplace.billing.models import AccountKind, Earning, LedgerEntry, LedgerTransaction, TransactionKind
from marketplace.billing.posting import job_pay_post
from marketplace.errors import ApplicationError, Conflict, NotFound, NotQualified, PermissionDenied
from marketplace.jobs.models import GoldAnswer, Job
from marketplace.labeling.models import JobBlock, Judgment
from marketplace.labeling.services import lease_claim
from marketplace.quality.appeals import appeal_file
from marketplace.quality.models import (
    APPEAL_REASON_MAX, Appeal, QualityEvent, WithdrawalReview, WorkerJobStats, WorkerSkill,
)
from marketplace.quality.services import worker_block
from tests.conftest import needs_postgres
from tests.factories import ClientFactory, WorkerFactory
from tests.quality.worker_helpers import answer_gold, answer_regular, gold_job
from tests.threads import WAIT, someone_waits_for_a_lock, thread_recording, until

pytestmark = pytest.mark.django_db
RULES = {"min_gold_answers": 3, "gold_accuracy_floor": "0.5", "gold_feedback": True}


@pytest.fixture
def no_cap(settings: object) -> None:
    """A rule may withdraw everything on its own (the cap has tests of its own below)."""
    settings.QUORUM_WITHDRAW_REVIEW_SHARE = Decimal("1.00")  # type: ignore[attr-defined]


def _client_of(job: Job, username: str = "alice") -> User:
    return ClientFactory(username=username, organization=job.organization)


def _worker_balance(worker: User) -> Decimal:
    """The worker's money as the ledger holds it: every entry on their accounts."""
    total = LedgerEntry.objects.filter(
        account__worker=worker, account__kind__in=(AccountKind.WORKER_PENDING, AccountKind.WORKER_AVAILABLE)
    ).aggregate(s=Sum("amount"))["s"]
    return total or Decimal("0.00")


def _earned(worker: User) -> Decimal:
    """What the worker's earnings say they have in the ledger: posted and not withdrawn."""
    rows = Earning.objects.filter(worker=worker, posted_at__isnull=False).exclude(status=Earning.Status.REVERSED)
    return rows.aggregate(s=Sum("amount"))["s"] or Decimal("0.00")


def _audit_clean() -> None:
    report = ledger_audit()
    assert report.ok, report.violations
    out = StringIO()
    call_command("billing_audit", stdout=out)
    assert "billing audit: OK" in out.getvalue()


def _blocked_wendy(wendy: User, walter: User) -> Job:
    """Acme's gold job: wendy labels, her pay is posted, then three missed gold answers block her."""
    job = gold_job(quality_rules=RULES)
    answer_regular(wendy, job, count=4)
    answer_regular(walter, job, count=4)
    job_pay_post(job_id=job.pk, everything=True)
    answer_gold(wendy, job, right=0, wrong=3)
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()
    return job


def test_an_upheld_block_appeal_lifts_the_block_and_pays_back_what_the_block_withdrew(
    wendy: User, walter: User, no_cap: None
) -> None:
    job = _blocked_wendy(wendy, walter)
    withdrawn = Earning.objects.filter(worker=wendy, job=job, status=Earning.Status.REVERSED)
    lost = withdrawn.aggregate(s=Sum("amount"))["s"]
    assert lost and lost > 0
    assert _worker_balance(wendy) == _earned(wendy)
    before = _worker_balance(wendy)
    _audit_clean()

    appeal = appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="The gold items showed dogs.")
    alice = _client_of(job)
    flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=alice, upheld=True, note="Our gold was wrong.")

    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.UPHELD and appeal.decided_by == alice
    assert not JobBlock.objects.filter(job=job, worker=wendy).exists()
    lease_claim(worker=wendy, job=job)  # she can work in the job again
    assert not Earning.objects.filter(worker=wendy, status=Earning.Status.REVERSED).exists()
    # Every cent withdrawn is hers again, by the ledger and by her earnings, and the audit agrees.
    assert _worker_balance(wendy) == before + lost - _unposted_restored(wendy)
    assert _worker_balance(wendy) == _earned(wendy)
    restore = LedgerEntry.objects.filter(transaction__kind=TransactionKind.JUDGMENT_PAY_RESTORE,
                                         account__worker=wendy)
    assert restore.aggregate(s=Sum("amount"))["s"] == lost - _unposted_restored(wendy)
    _audit_clean()
    job_pay_post(job_id=job.pk, everything=True)  # pay owed again is posted like any other
    assert _worker_balance(wendy) == before + lost
    _audit_clean()
    # The audit is not fooled: an earning marked withdrawn again, with its money left where the
    # restore put it, breaks the restore's match.
    restored = Earning.objects.filter(worker=wendy, job=job, status=Earning.Status.AVAILABLE,
                                      kept_after_drop=True).first()
    assert restored is not None
    Earning.objects.filter(pk=restored.pk).update(status=Earning.Status.REVERSED)
    assert any("restores moved" in v for v in ledger_audit().violations)


def test_an_upheld_appeal_gives_back_no_pay_for_an_answer_wendy_undid(
    wendy: User, walter: User, no_cap: None
) -> None:
    """Wendy undid an answer and answered again before her block: the appeal gives back what the
    block withdrew, not the undone answer's pay too (she was paid for its new answer)."""
    job = gold_job(quality_rules=RULES)
    last = answer_regular(wendy, job, count=3)[-1].judgment
    again = flows.work_undo(worker=wendy, judgment_id=last.pk).lease
    flows.work_submit(worker=wendy, lease_id=again.pk, label="dog")
    answer_regular(walter, job, count=4)
    job_pay_post(job_id=job.pk, everything=True)
    with contextlib.suppress(NotQualified):  # blocked as soon as the misses outweigh her right gold
        answer_gold(wendy, job, right=0, wrong=3)
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()
    undone = Earning.objects.get(judgment=last)
    assert undone.status == Earning.Status.REVERSED and undone.rank < 1

    appeal = appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="The gold items showed dogs.")
    flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=_client_of(job), upheld=True, note="Our gold was wrong.")
    job_pay_post(job_id=job.pk, everything=True)

    reversed_now = Earning.objects.filter(worker=wendy, job=job, status=Earning.Status.REVERSED)
    assert list(reversed_now.values_list("pk", flat=True)) == [undone.pk]
    kept = Judgment.objects.filter(worker=wendy, job=job).exclude(pk=last.pk).count()
    assert _worker_balance(wendy) == _earned(wendy) == kept * job.reward_per_judgment  # whole cents
    _audit_clean()


def _unposted_restored(worker: User) -> Decimal:
    rows = Earning.objects.filter(worker=worker, posted_at__isnull=True, status=Earning.Status.PENDING)
    return rows.aggregate(s=Sum("amount"))["s"] or Decimal("0.00")


def test_a_rejected_appeal_changes_nothing(wendy: User, walter: User, no_cap: None) -> None:
    job = _blocked_wendy(wendy, walter)
    balance = _worker_balance(wendy)
    appeal = appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="I was careful.")
    flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=_client_of(job), upheld=False, note="Gold checked twice.")
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.REJECTED and appeal.decision_note == "Gold checked twice."
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()
    assert _worker_balance(wendy) == balance
    assert Earning.objects.filter(worker=wendy, status=Earning.Status.REVERSED).exists()
    with pytest.raises(Conflict):  # decided once
        flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=_client_of(job, "bob"), upheld=True)
    _audit_clean()


def test_an_appeal_upheld_after_the_job_settled_is_paid_from_quorums_revenue(
    wendy: User, walter: User, no_cap: None
) -> None:
    from marketplace import flows

    job = _blocked_wendy(wendy, walter)
    alice = _client_of(job)
    appeal = appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="Appealing before the job ends.")
    flows.job_cancel(job=job, user=alice)  # settled: the escrow is closed
    lost = Earning.objects.filter(worker=wendy, status=Earning.Status.REVERSED).aggregate(s=Sum("amount"))["s"]

    flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=alice, upheld=True)

    assert not Earning.objects.filter(worker=wendy).exclude(status=Earning.Status.AVAILABLE).filter(
        status=Earning.Status.REVERSED).exists()
    restore = LedgerEntry.objects.filter(transaction__kind=TransactionKind.JUDGMENT_PAY_RESTORE)
    assert restore.get(account__kind=AccountKind.PLATFORM_REVENUE).amount == -lost
    assert _worker_balance(wendy) == _earned(wendy)
    _audit_clean()


def test_an_upheld_gold_appeal_retires_the_item_rescores_and_lifts_the_block_it_no_longer_supports(
    wendy: User, walter: User, no_cap: None
) -> None:
    job = _blocked_wendy(wendy, walter)
    missed = Judgment.objects.filter(worker=wendy, job=job, is_gold=True, is_correct=False).order_by("id").first()
    assert missed is not None
    walter_on_it = Judgment.objects.filter(worker=walter, item_id=missed.item_id).first()
    walter_seen = WorkerJobStats.objects.get(job=job, worker=walter).gold_seen
    appeal = appeal_file(worker=wendy, kind="gold", judgment_id=missed.pk, reason="This one is clearly a dog.")

    flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=_client_of(job), upheld=True, gold_action="retire")

    assert not GoldAnswer.objects.filter(item_id=missed.item_id).exists()  # retired: never scored again
    assert set(Judgment.objects.filter(item_id=missed.item_id).values_list("is_correct", flat=True)) == {None}
    # Two misses out of two scored gold answers is under the rule's minimum: the block is lifted.
    assert not JobBlock.objects.filter(job=job, worker=wendy).exists()
    assert not Earning.objects.filter(worker=wendy, status=Earning.Status.REVERSED).exists()
    appeal.refresh_from_db()
    assert appeal.gold_action == "retired" and appeal.outcome["lifted"][0]["worker"] == wendy.pk
    if walter_on_it is not None:  # his right answer there no longer counts
        assert WorkerJobStats.objects.get(job=job, worker=walter).gold_seen == walter_seen - 1
    _audit_clean()
    # A newcomer meets twenty gold items, never the retired one.
    carl = WorkerFactory(username="carl")
    answer_gold(carl, job, right=20, wrong=0)
    assert not Judgment.objects.filter(worker=carl, item_id=missed.item_id).exists()


def test_a_gold_correction_rescores_every_answer_and_the_block_follows_the_rescored_record(
    wendy: User, walter: User, no_cap: None
) -> None:
    job = _blocked_wendy(wendy, walter)
    missed = Judgment.objects.filter(worker=wendy, job=job, is_gold=True, is_correct=False).order_by("id").first()
    assert missed is not None
    appeal = appeal_file(worker=wendy, kind="gold", judgment_id=missed.pk, reason="The answer is dog.")
    with pytest.raises(ApplicationError, match="labels"):
        flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=_client_of(job), upheld=True,
                                    gold_action="correct", gold_label="zebra")
    skill = WorkerSkill.objects.get(worker=wendy)
    flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=_client_of(job, "bob"), upheld=True,
                                gold_action="correct", gold_label="dog")

    assert GoldAnswer.objects.get(item_id=missed.item_id).label == "dog"
    missed.refresh_from_db()
    assert missed.is_correct is True
    # Her skill across jobs takes the miss back and counts the answer right: one more right, as many seen.
    after = WorkerSkill.objects.get(worker=wendy)
    assert (after.right, after.seen) == (skill.right + 1, skill.seen)
    # Anyone who answered "cat" there is now wrong.
    assert not Judgment.objects.filter(item_id=missed.item_id, label="cat", is_correct=True).exists()
    # The gold rule (3 answers, floor 0.5) on her rescored answers decides whether the block stays.
    scored = Judgment.objects.filter(worker=wendy, job=job, is_gold=True, is_correct__isnull=False)
    right, seen = scored.filter(is_correct=True).count(), scored.count()
    still_blocked = (right + 1) / (seen + 2) < 0.5
    assert JobBlock.objects.filter(job=job, worker=wendy).exists() == still_blocked
    assert Earning.objects.filter(worker=wendy, status=Earning.Status.REVERSED).exists() == still_blocked
    _audit_clean()


def test_only_the_jobs_organization_or_an_admin_decides(
    wendy: User, walter: User, carol: User, ada: User, no_cap: None
) -> None:
    job = _blocked_wendy(wendy, walter)
    appeal = appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="Please look again.")
    for outsider in (carol, walter, wendy):  # another organization's client, workers
        with pytest.raises(NotFound):
            flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=outsider, upheld=True)
    assert Appeal.objects.get(pk=appeal.pk).status == Appeal.Status.OPEN
    flows_appeals.appeal_decide(appeal_id=appeal.pk, actor=ada, upheld=False)
    assert Appeal.objects.get(pk=appeal.pk).decided_by == ada


def test_a_worker_appeals_only_their_own_subjects_in_time_once_and_briefly(
    wendy: User, walter: User, ada: User, no_cap: None
) -> None:
    job = _blocked_wendy(wendy, walter)
    missed = Judgment.objects.filter(worker=wendy, job=job, is_gold=True, is_correct=False).first()
    assert missed is not None
    with pytest.raises(ApplicationError, match="at most"):
        appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="x" * (APPEAL_REASON_MAX + 1))
    with pytest.raises(ApplicationError, match="required"):
        appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="   ")
    with pytest.raises(NotFound):  # not walter's block, not walter's answer
        appeal_file(worker=walter, kind="block", job_id=job.pk, reason="me too")
    with pytest.raises(NotFound):
        appeal_file(worker=walter, kind="gold", judgment_id=missed.pk, reason="mine?")
    appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="First appeal.")
    with pytest.raises(Conflict):
        appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="Second appeal.")
    # Eight days on, the gold answer can no longer be appealed.
    Judgment.objects.filter(pk=missed.pk).update(created_at=missed.created_at - timedelta(days=8))
    with pytest.raises(ApplicationError, match="too late"):
        appeal_file(worker=wendy, kind="gold", judgment_id=missed.pk, reason="Late.")


def test_a_block_appeal_comes_too_late_after_seven_days_and_an_admins_block_is_final(
    wendy: User, walter: User, ada: User, no_cap: None
) -> None:
    job = _blocked_wendy(wendy, walter)
    event = QualityEvent.objects.get(job=job, worker=wendy, kind=QualityEvent.Kind.BLOCKED)
    QualityEvent.objects.filter(pk=event.pk).update(created_at=event.created_at - timedelta(days=7, minutes=1))
    with pytest.raises(ApplicationError, match="too late"):
        appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="Late.")
    other = gold_job(quality_rules=RULES)
    answer_regular(walter, other, count=1)
    worker_block(job=other, worker=walter, reason="Seen copying", actor=ada)
    with pytest.raises(ApplicationError, match="automatic"):
        appeal_file(worker=walter, kind="block", job_id=other.pk, reason="Unfair.")


# --- The cap on mass withdrawal ------------------------------------------------------------

def test_a_rule_withdrawing_more_than_the_cap_waits_for_an_admin(wendy: User, walter: User, ada: User) -> None:
    job = _blocked_wendy(wendy, walter)  # the default cap: at most half of her pay
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()  # future work stops at once
    assert not Earning.objects.filter(worker=wendy, status=Earning.Status.REVERSED).exists()
    review = WithdrawalReview.objects.get(job=job, worker=wendy, status=WithdrawalReview.Status.PENDING)
    assert review.amount == review.earned  # all of it was pending: over the cap
    assert QualityEvent.objects.filter(worker=wendy, kind=QualityEvent.Kind.WITHDRAWAL_HELD).exists()
    _audit_clean()

    with pytest.raises(PermissionDenied):  # only admins decide
        flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=_client_of(job), approve=True)
    flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=ada, approve=True, note="Spam, checked.")

    review.refresh_from_db()
    assert review.status == WithdrawalReview.Status.APPROVED and review.decided_by == ada
    assert Earning.objects.filter(worker=wendy, status=Earning.Status.REVERSED).count() > 0
    assert _worker_balance(wendy) == _earned(wendy)
    _audit_clean()


def test_a_dismissed_withdrawal_leaves_the_pay_with_the_worker(wendy: User, walter: User, ada: User) -> None:
    job = _blocked_wendy(wendy, walter)
    review = WithdrawalReview.objects.get(job=job, worker=wendy)
    flows_appeals.withdrawal_review_decide(review_id=review.pk, actor=ada, approve=False)
    assert WithdrawalReview.objects.get(pk=review.pk).status == WithdrawalReview.Status.DISMISSED
    assert not Earning.objects.filter(worker=wendy, status=Earning.Status.REVERSED).exists()
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()
    _audit_clean()


# --- Two deciders at once -----------------------------------------------------------------

@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_two_deciders_at_once_decide_once_and_restore_the_pay_once(
    wendy: User, walter: User, ada: User, no_cap: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _blocked_wendy(wendy, walter)
    appeal = appeal_file(worker=wendy, kind="block", job_id=job.pk, reason="Two of you, please look.")
    alice = _client_of(job)
    reached, go = threading.Event(), threading.Event()
    restore = restoring.worker_job_pay_restore

    def restore_when_told(**kwargs: object) -> object:  # the first decider stops holding the appeal
        reached.set()
        go.wait(WAIT)
        return restore(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(restoring, "worker_job_pay_restore", restore_when_told)
    outcomes: dict[str, object] = {}
    first = thread_recording(outcomes, "alice", lambda: flows_appeals.appeal_decide(
        appeal_id=appeal.pk, actor=alice, upheld=True))
    second = thread_recording(outcomes, "ada", lambda: flows_appeals.appeal_decide(
        appeal_id=appeal.pk, actor=ada, upheld=False))
    first.start()
    assert reached.wait(WAIT)
    second.start()
    until(someone_waits_for_a_lock, "the second decider queuing behind the appeal's row lock")
    go.set()
    first.join(WAIT)
    second.join(WAIT)

    assert isinstance(outcomes["alice"], Appeal) and isinstance(outcomes["ada"], Conflict)
    assert Appeal.objects.get(pk=appeal.pk).status == Appeal.Status.UPHELD
    assert LedgerTransaction.objects.filter(kind=TransactionKind.JUDGMENT_PAY_RESTORE).count() == 1
    _audit_clean()
