"""Taking back a returned lease never waits on its item's row (labeling/sql_return.py): the
take-back inside a submit already holds the submitted item's lock, so waiting for another's
could deadlock with a submit crossing the other way. A row held this moment leaves the lease
returned, and the worker's next claim takes it back.

Wendy's labeling page A closes and its beacon gives her item back; as her new page B asks for
an item, another worker's submit holds that item's row.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from django.db import connections

from marketplace.accounts.models import User
from marketplace.labeling.models import Lease, LeaseStatus
from marketplace.labeling.services import lease_claim
from tests.factories import open_job_with_items
from tests.labeling.helpers import signed_in
from tests.labeling.test_page_reload import A, B, beacon, shown, status
from tests.live_server import test_database_url as database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

WAIT = 20.0  # seconds a claim may take on a busy machine; one waiting on the row never ends


def _claim_in_thread(worker: User, job_id: int, outcome: dict[str, Any], **kwargs: Any) -> None:
    try:
        outcome["lease"] = lease_claim(worker=worker, job=job_id, page=B, **kwargs).pk
    except Exception as exc:  # the test reports it
        outcome["error"] = exc
    finally:
        connections.close_all()


def test_a_returned_item_whose_row_another_submit_holds_is_taken_back_by_the_next_claim_not_waited_for(
    wendy: User,
) -> None:
    job = open_job_with_items(items=3, overlap=1)
    client = signed_in(wendy)
    returned = shown(client, job, A)
    assert beacon(client, A, returned) == 204
    item = Lease.objects.get(pk=returned).item_id

    outcome: dict[str, Any] = {}
    with psycopg.connect(database_url()) as submit_in_flight:  # holds the item's row, as a submit would
        submit_in_flight.execute("SELECT 1 FROM jobs_item WHERE id = %s FOR UPDATE", [item])
        claim = threading.Thread(target=_claim_in_thread, args=(wendy, job.pk, outcome))
        claim.start()
        claim.join(WAIT)
        waited = claim.is_alive()
        submit_in_flight.rollback()
        claim.join(WAIT)
    assert not waited, "the claim waited for the row another transaction held"
    assert "error" not in outcome, outcome
    assert outcome["lease"] != returned  # another item meanwhile
    assert status(returned) == LeaseStatus.RETURNED

    # The row is free again: her next call (the item after the one on screen) takes it back.
    assert shown(client, job, B, ahead_of=outcome["lease"]) == returned
    assert status(returned) == LeaseStatus.ACTIVE
