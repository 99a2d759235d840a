"""An admin watching a client's job live on /ws/staff/ is a staff look like opening its page: the
client is promised every look is on record ("Quorum staff access" on the job page).

The cast (tests/conftest.py): Alice is Acme's client; Ada an admin of no client organization.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.urls import reverse

from marketplace.accounts.models import Organization, User
from marketplace.jobs.models import Job, JobStaffView
from tests.factories import open_job_with_items
from tests.portal import browser
from tests.realtime.conftest import WAIT, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sockets_db")]


@database_sync_to_async
def acme_job(acme: Organization) -> Job:
    return open_job_with_items(items=4, organization=acme, title="Acme cats")


@database_sync_to_async
def looks_at(job: Job) -> list[tuple[str, str]]:
    return list(JobStaffView.objects.filter(job=job).values_list("viewer__username", "what"))


@database_sync_to_async
def job_page_as(user: User, job: Job) -> str:
    return str(browser(user).get(reverse("job-page", args=[job.pk])).content.decode())


async def test_an_admin_subscribing_to_a_clients_job_is_on_the_clients_record(
    acme: Organization, alice: User, ada: User
) -> None:
    job = await acme_job(acme)
    staff, _, _ = await open_socket("/ws/staff/", ada)  # no page opened: the socket alone

    await staff.send_json_to({"subscribe": job.pk})

    assert (await staff.receive_json_from(timeout=WAIT)) == {"type": "subscribed", "job": job.pk}
    assert await looks_at(job) == [("ada", "/ws/staff/ (live feed)")]
    page = await job_page_as(alice, job)
    assert "Quorum staff access" in page and "1 look" in page and "/ws/staff/ (live feed)" in page
    await staff.disconnect()


async def test_a_subscription_refused_or_only_to_staff_alerts_records_no_look(acme: Organization, ada: User) -> None:
    job = await acme_job(acme)
    staff, _, _ = await open_socket("/ws/staff/", ada)  # connected: alerts only, no job's data

    await staff.send_json_to({"subscribe": job.pk + 1000})  # no such job
    assert (await staff.receive_json_from(timeout=WAIT)) == {"type": "error", "message": "Job not found."}
    await staff.send_json_to({"subscribe": None})
    assert (await staff.receive_json_from(timeout=WAIT)) == {"type": "subscribed", "job": None}

    assert await looks_at(job) == [] and not await database_sync_to_async(JobStaffView.objects.exists)()
    await staff.disconnect()


async def test_the_feed_of_a_page_the_admin_just_opened_and_a_reconnection_add_no_second_look(
    acme: Organization, ada: User
) -> None:
    job = await acme_job(acme)
    await job_page_as(ada, job)  # the job's page: one look on record, which opens the live feed

    for _ in range(2):  # the page's socket, then a reconnection a moment later
        staff, _, _ = await open_socket("/ws/staff/", ada)
        await staff.send_json_to({"subscribe": job.pk})
        assert (await staff.receive_json_from(timeout=WAIT)) == {"type": "subscribed", "job": job.pk}
        await staff.disconnect()

    looks = await looks_at(job)
    assert len(looks) == 1 and looks[0][0] == "ada" and "(live feed)" not in looks[0][1]
