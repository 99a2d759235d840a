"""The three sockets: who may connect, and who hears what (never another organization)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from django.test import Client

from marketplace import flows
from marketplace.accounts.models import ExamQuestion, Organization, User
from marketplace.errors import ApplicationError
from marketplace.jobs.models import Job, JobQualification
from marketplace.labeling.models import JobBlock
from marketplace.labeling.services import lease_claim
from marketplace.realtime import events
from tests.factories import JobFactory, QualificationFactory, open_job_with_items, publish_funded
from tests.realtime.conftest import QUIET, WAIT, open_socket, receive_type

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sockets_db")]


@database_sync_to_async
def acme_job(acme: Organization, **fields: Any) -> Job:
    return open_job_with_items(items=4, organization=acme, **fields)


@database_sync_to_async
def publish_progress_and_commit(job: Job) -> None:
    with transaction.atomic():
        events.job_progress(job_id=job.pk)


async def test_a_socket_without_a_session_is_refused() -> None:
    for path in ("/ws/client/", "/ws/worker/", "/ws/staff/"):
        _, accepted, code = await open_socket(path)
        assert (accepted, code) == (False, 4401)


@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("/ws/client/", "wendy"), ("/ws/client/", "ada"), ("/ws/worker/", "alice"),
        ("/ws/staff/", "alice"), ("/ws/staff/", "wendy"),
    ],
)
async def test_a_socket_of_the_wrong_role_is_refused(
    path: str, who: str, alice: User, wendy: User, ada: User
) -> None:
    user = {"alice": alice, "wendy": wendy, "ada": ada}[who]
    _, accepted, code = await open_socket(path, user)
    assert (accepted, code) == (False, 4403)


async def test_a_socket_from_another_site_is_refused(alice: User) -> None:
    _, accepted, _ = await open_socket("/ws/client/", alice, origin=b"https://evil.example")
    assert not accepted


async def test_acme_hears_its_jobs_progress_and_globex_hears_nothing(
    acme: Organization, alice: User, carol: User
) -> None:
    job = await acme_job(acme)
    acme_socket, accepted, _ = await open_socket("/ws/client/", alice)
    globex_socket, accepted_too, _ = await open_socket("/ws/client/", carol)
    assert accepted and accepted_too

    await publish_progress_and_commit(job)

    message = await acme_socket.receive_json_from(timeout=WAIT)
    assert message == {
        "type": "job.progress", "job": job.pk, "status": "open", "items_total": 4, "items_done": 0,
        "judgments": 0, "percent": 0.0, "spent": "0.00", "budget": message["budget"],
    }
    assert message["budget"] != "0.00"  # the escrow opened at publish
    assert await globex_socket.receive_nothing(timeout=QUIET)
    await acme_socket.disconnect()
    await globex_socket.disconnect()


async def test_a_rolled_back_transaction_sends_nothing(acme: Organization, alice: User) -> None:
    job = await acme_job(acme)
    socket, _, _ = await open_socket("/ws/client/", alice)

    @database_sync_to_async
    def publish_then_fail() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            events.job_progress(job_id=job.pk)
            events.job_status(job_id=job.pk, status="paused")
            raise RuntimeError("the action failed")

    await publish_then_fail()
    assert await socket.receive_nothing(timeout=QUIET)
    await socket.disconnect()


async def test_nothing_is_sent_before_the_commit(acme: Organization, alice: User) -> None:
    job = await acme_job(acme)
    socket, _, _ = await open_socket("/ws/client/", alice)
    seen_inside: list[bool] = []

    @database_sync_to_async
    def publish_and_look_before_commit() -> None:
        with transaction.atomic():
            events.job_progress(job_id=job.pk)
            # Still inside the transaction: the callback is queued, not run.
            seen_inside.append(bool(transaction.get_connection().run_on_commit))

    await publish_and_look_before_commit()
    assert seen_inside == [True]
    assert (await socket.receive_json_from(timeout=WAIT))["type"] == "job.progress"
    await socket.disconnect()


async def test_a_submit_through_the_flow_sends_the_new_counts(
    acme: Organization, alice: User, carol: User, wendy: User
) -> None:
    job = await acme_job(acme, overlap=1)
    socket, _, _ = await open_socket("/ws/client/", alice)
    globex_socket, _, _ = await open_socket("/ws/client/", carol)

    @database_sync_to_async
    def label_one() -> None:
        lease = lease_claim(worker=wendy, job=job)
        flows.work_submit(worker=wendy, lease_id=lease.pk, label="cat")

    await label_one()
    message = await receive_type(socket, "job.progress")
    counts = (message["job"], message["items_done"], message["judgments"], message["percent"])
    assert counts == (job.pk, 1, 1, 25.0)
    assert message["spent"] != "0.00"  # one completed item is charged
    assert await globex_socket.receive_nothing(timeout=QUIET)
    await socket.disconnect()
    await globex_socket.disconnect()


async def test_publishing_tells_the_client_the_workers_and_the_admins(
    acme: Organization, alice: User, wendy: User, ada: User
) -> None:
    job = await database_sync_to_async(open_job_with_items)(items=3, organization=acme, publish=False)
    client, _, _ = await open_socket("/ws/client/", alice)
    worker, _, _ = await open_socket("/ws/worker/", wendy)
    staff, _, _ = await open_socket("/ws/staff/", ada)

    await database_sync_to_async(publish_funded)(job)  # tops up Acme, then flows.job_publish

    assert await receive_type(client, "job.status") == {"type": "job.status", "job": job.pk, "status": "open"}
    assert (await receive_type(client, "job.progress"))["items_total"] == 3
    assert await receive_type(worker, "work.available") == {
        "type": "work.available", "job": job.pk, "title": job.title, "pay": str(job.reward_per_judgment),
        "gated": False,
    }
    assert (await receive_type(staff, "job.status"))["job"] == job.pk
    assert await worker.receive_nothing(timeout=QUIET)  # workers hear no client's counters
    for socket in (client, worker, staff):
        await socket.disconnect()


async def test_a_job_for_qualified_workers_only_keeps_its_title_and_pay_from_the_others(
    acme: Organization, wendy: User, ada: User
) -> None:
    @database_sync_to_async
    def gated_job() -> Job:
        job = open_job_with_items(items=2, organization=acme, publish=False, title="Radiology, secret")
        skill = QualificationFactory()
        # An exam, so workers can earn it: a job gated on a skill nobody could ever hold is refused.
        ExamQuestion.objects.create(qualification=skill, data={"text": "A cat"}, answer="cat")
        JobQualification.objects.create(job=job, qualification=skill, min_score=Decimal("0.9"))
        return job

    job = await gated_job()
    worker, _, _ = await open_socket("/ws/worker/", wendy)
    await database_sync_to_async(publish_funded)(job)
    heard = await receive_type(worker, "work.available")
    assert heard == {"type": "work.available", "job": job.pk, "title": None, "pay": None, "gated": True}
    await worker.disconnect()


async def test_pause_and_resume_are_heard(acme: Organization, alice: User, wendy: User) -> None:
    job = await acme_job(acme)
    client, _, _ = await open_socket("/ws/client/", alice)
    worker, _, _ = await open_socket("/ws/worker/", wendy)

    await database_sync_to_async(flows.job_pause)(job=job, user=alice)
    assert (await receive_type(client, "job.status"))["status"] == "paused"
    await database_sync_to_async(flows.job_resume)(job=job, user=alice)
    assert (await receive_type(client, "job.status"))["status"] == "open"
    assert (await receive_type(worker, "work.available"))["job"] == job.pk
    await client.disconnect()
    await worker.disconnect()


async def test_a_block_alerts_the_admins_only(
    acme: Organization, alice: User, wendy: User, ada: User
) -> None:
    job = await acme_job(acme)
    client, _, _ = await open_socket("/ws/client/", alice)
    staff, _, _ = await open_socket("/ws/staff/", ada)

    block = database_sync_to_async(flows.worker_block)
    await block(job=job, worker=wendy, reason="Spam answers", actor=ada)

    assert await receive_type(staff, "quality.alert") == {
        "type": "quality.alert", "worker": wendy.pk, "username": "wendy", "job": job.pk,
        "action": "blocked", "reason": "Spam answers",
    }
    assert (await receive_type(client, "job.progress"))["job"] == job.pk  # items may have reopened
    assert await client.receive_nothing(timeout=QUIET)  # no quality alert for the client
    await client.disconnect()
    await staff.disconnect()


async def test_an_automatic_block_alerts_the_admins_with_the_rules_reason(
    acme: Organization, wendy: User, ada: User
) -> None:
    # A floor one wrong gold answer falls under ((0 + 1) / (1 + 2) < 0.9): her first miss blocks her.
    job = await database_sync_to_async(open_job_with_items)(
        items=12, gold=3, organization=acme, gold_rate="0.5",
        quality_rules={"min_gold_answers": 1, "gold_accuracy_floor": "0.9"},
    )
    staff, _, _ = await open_socket("/ws/staff/", ada)

    @database_sync_to_async
    def answer_gold_wrong_until_blocked() -> None:
        # Gold comes with chance 0.5 per claim: within 12 claims she meets one (p = 1 − 2⁻¹²).
        for _ in range(12):
            try:
                lease = lease_claim(worker=wendy, job=job)
            except ApplicationError:
                return
            flows.work_submit(worker=wendy, lease_id=lease.pk, label="dog")  # gold says cat
            if JobBlock.objects.filter(job=job, worker=wendy).exists():
                return

    await answer_gold_wrong_until_blocked()
    alert = await receive_type(staff, "quality.alert")
    assert (alert["worker"], alert["job"], alert["action"]) == (wendy.pk, job.pk, "blocked")
    assert "gold accuracy" in alert["reason"]
    await staff.disconnect()


async def test_a_client_subscribes_only_to_its_own_job(
    acme: Organization, globex: Organization, alice: User
) -> None:
    mine = await acme_job(acme)
    other_acme = await acme_job(acme)
    theirs = await database_sync_to_async(JobFactory)(organization=globex)
    socket, _, _ = await open_socket("/ws/client/", alice)

    await socket.send_json_to({"subscribe": theirs.pk})
    assert (await socket.receive_json_from(timeout=WAIT)) == {"type": "error", "message": "Job not found."}
    await socket.send_json_to({"subscribe": mine.pk})
    assert (await socket.receive_json_from(timeout=WAIT)) == {"type": "subscribed", "job": mine.pk}

    await publish_progress_and_commit(other_acme)  # narrowed away
    await publish_progress_and_commit(mine)
    assert (await socket.receive_json_from(timeout=WAIT))["job"] == mine.pk
    assert await socket.receive_nothing(timeout=QUIET)
    await socket.disconnect()


async def test_an_admin_subscribed_to_a_job_hears_its_progress(acme: Organization, ada: User) -> None:
    job = await acme_job(acme)
    staff, _, _ = await open_socket("/ws/staff/", ada)
    await publish_progress_and_commit(job)
    assert await staff.receive_nothing(timeout=QUIET)  # not subscribed: no counters

    await staff.send_json_to({"subscribe": job.pk})
    assert (await staff.receive_json_from(timeout=WAIT)) == {"type": "subscribed", "job": job.pk}
    await publish_progress_and_commit(job)
    assert (await receive_type(staff, "job.progress"))["job"] == job.pk
    await staff.disconnect()


async def test_logging_out_closes_the_users_open_sockets_and_no_one_elses(
    acme: Organization, alice: User, bob: User
) -> None:
    alices, _, _ = await open_socket("/ws/client/", alice)
    bobs, _, _ = await open_socket("/ws/client/", bob)

    @database_sync_to_async
    def log_out_alice() -> int:
        browser = Client()
        browser.force_login(alice)
        return browser.post("/logout/").status_code

    assert await log_out_alice() == 302
    closed = await alices.receive_output(timeout=WAIT)
    assert closed == {"type": "websocket.close", "code": 4401}
    assert await bobs.receive_nothing(timeout=QUIET)  # her colleague's socket stays open
    await bobs.disconnect()
