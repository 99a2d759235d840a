"""A worker's own counts in a job that hides its check items move an hour late, a whole hour at once.

The attack this stops (outside audit, F1): in a job with gold feedback off, Wendy submits, reads
/me/quality/; the gold count went up but not the count right, so she missed a check item: she
undoes and tries the next label until it counts right. And the answer count (regular answers
only) moving or not tells every check item apart even without undo.

The cast: Acme's "Closed book" job hides gold feedback (and never blocks: min_gold_answers 1000);
its check items' answer is "cat", overlap 2 so an answer can be undone. "Open book" shows gold
feedback. Wendy labels both; Ada is an admin.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace.accounts.models import User
from marketplace.errors import NotQualified
from marketplace.flows import work_submit
from marketplace.jobs.models import Item, Job
from marketplace.labeling.models import JobBlock, Judgment, Lease
from marketplace.labeling.services import lease_claim
from marketplace.quality.runs import consensus_run
from marketplace.quality.tasks import progress_snapshots_tick
from marketplace.quality.selectors import job_worker_quality
from tests.factories import open_job_with_items
from tests.labeling.helpers import signed_in
from tests.quality.worker_helpers import answer_gold, clock, gold_job, hours_later

pytestmark = pytest.mark.django_db

CLOSED = {"gold_feedback": False, "min_gold_answers": 1000}


@pytest.fixture
def closed_book(db: None) -> Job:
    return open_job_with_items(title="Closed book", items=3, gold=2, gold_label="cat", overlap=2,
                               quality_rules=CLOSED)


def hand(worker: User, job: Job, *, gold: bool) -> int:
    """An item's lease handed to the worker directly (a claim picks gold or not by chance)."""
    item = Item.objects.filter(job=job, is_gold=gold).exclude(judgments__worker=worker).order_by("id")[0]
    now = timezone.now()
    return Lease.objects.create(
        job=job, item=item, worker=worker, created_at=now, expires_at=now + timedelta(minutes=5)
    ).pk


def submit(api: APIClient, lease: int, label: str) -> int:
    sent = api.post(f"/api/v1/work/leases/{lease}/submit/", {"label": label}, format="json")
    assert sent.status_code == 201, sent.content
    assert sent.json()["feedback"] is None  # the job hides its check items
    return int(sent.json()["judgment"])


def mine(api: APIClient, job: Job) -> dict[str, Any]:
    """The worker's figures in the job as /me/quality/ gives them, and the overall counts."""
    body = api.get("/api/v1/me/quality/").json()
    (row,) = [row for row in body["jobs"] if row["job"] == job.pk]
    return {"judgments": row["judgments"], "gold": (row["gold"]["correct"], row["gold"]["seen"]),
            "overall": (body["overall"]["gold"]["correct"], body["overall"]["gold"]["seen"]),
            "counted_before": row["counted_before"]}


def test_a_missed_check_item_moves_no_count_so_undo_cannot_find_its_answer(
    closed_book: Job, wendy: User, client_for: Any
) -> None:
    api = client_for(wendy)
    submit(api, hand(wendy, closed_book, gold=False), "dog")  # her figures in the job exist from here
    before = mine(api, closed_book)
    lease = hand(wendy, closed_book, gold=True)
    for label in ("dog", "bird"):
        missed = submit(api, lease, label)
        assert mine(api, closed_book) == before  # nothing says it was a check item, nor a miss
        assert api.post(f"/api/v1/work/judgments/{missed}/undo/").status_code == 200
    right = submit(api, lease, "cat")
    assert mine(api, closed_book) == before
    submit(api, hand(wendy, closed_book, gold=False), "dog")
    assert mine(api, closed_book) == before  # a regular answer moves no count either
    assert before["judgments"] == 0 and before["gold"] == (0, 0)
    given = Judgment.objects.get(pk=right).created_at

    with clock(given + timedelta(seconds=settings.QUORUM_GOLD_FIGURES_LAG_SECONDS - 1)):
        assert mine(api, closed_book)["gold"] == (0, 0)  # not before an hour is out
    with hours_later():
        later = mine(api, closed_book)
    assert later["judgments"] == 2 and later["gold"] == (1, 1) and later["overall"] == (1, 1)  # undone: out


def test_answers_of_one_hour_show_up_together_at_the_end_of_the_next(
    closed_book: Job, wendy: User, client_for: Any
) -> None:
    api = client_for(wendy)
    hour = datetime.fromtimestamp((int(timezone.now().timestamp()) // 3600 + 2) * 3600, tz=UTC)
    with clock(hour + timedelta(minutes=10)):
        submit(api, hand(wendy, closed_book, gold=True), "dog")
    with clock(hour + timedelta(minutes=50)):
        submit(api, hand(wendy, closed_book, gold=False), "dog")

    with clock(hour + timedelta(hours=1, minutes=59)):  # the miss is 1 h 49 min old
        early = mine(api, closed_book)
    with clock(hour + timedelta(hours=2)):
        on_time = mine(api, closed_book)

    assert (early["judgments"], early["gold"]) == (0, (0, 0))
    assert early["counted_before"] == hour.isoformat().replace("+00:00", "Z")
    assert (on_time["judgments"], on_time["gold"]) == (1, (0, 1))
    assert on_time["counted_before"] == (hour + timedelta(hours=1)).isoformat().replace("+00:00", "Z")


def test_a_job_that_shows_gold_feedback_keeps_live_counts(wendy: User, client_for: Any) -> None:
    open_book = open_job_with_items(title="Open book", items=3, gold=2, gold_label="cat", overlap=2)
    api = client_for(wendy)
    sent = api.post(f"/api/v1/work/leases/{hand(wendy, open_book, gold=True)}/submit/", {"label": "dog"},
                    format="json")
    assert sent.json()["feedback"]["correct_label"] == "cat"  # she is told anyway
    figures = mine(api, open_book)
    assert figures["gold"] == (0, 1) and figures["counted_before"] is None


def test_the_gold_rule_blocks_on_live_counts_while_the_workers_own_wait(
    wendy: User, ada: User, client_for: Any
) -> None:
    job = gold_job(quality_rules={"gold_feedback": False, "min_gold_answers": 3, "gold_accuracy_floor": "0.5"})
    answer_gold(wendy, job, right=0, wrong=3)  # the third miss blocks her
    assert JobBlock.objects.filter(job=job, worker=wendy).exists()
    with pytest.raises(NotQualified):
        lease_claim(worker=wendy, job=job)
    (rule,) = job_worker_quality(job_id=job.pk)
    assert (rule.gold.correct, rule.gold.seen) == (0, 3)
    admin = client_for(ada).get(f"/api/v1/quality/workers/{wendy.pk}/").json()
    assert admin["jobs"][0]["gold"]["seen"] == 3 and admin["jobs"][0]["counted_before"] is None
    own = client_for(wendy).get("/api/v1/me/quality/").json()["jobs"][0]
    assert own["blocked"] is True and own["gold"]["seen"] == 0  # the block shows; the answers do not, yet


def test_a_multi_label_jobs_label_decisions_wait_as_its_answers_do(wendy: User, client_for: Any) -> None:
    job = gold_job(multi_label=True, quality_rules=CLOSED)
    gold_answers = 0
    while gold_answers < 2:
        lease = lease_claim(worker=wendy, job=job)
        done = work_submit(worker=wendy, lease_id=lease.pk, label=None, seconds_spent="5",
                           labels=["cat", "dog"] if lease.item.is_gold else ["cat"])
        gold_answers += done.judgment.is_gold
    api = client_for(wendy)
    (now,) = api.get("/api/v1/me/quality/").json()["jobs"]
    with hours_later():
        (later,) = api.get("/api/v1/me/quality/").json()["jobs"]
    assert (now["gold"]["seen"], now["gold_exact_sets"]) == (0, None)
    assert (later["gold"]["correct"], later["gold"]["seen"]) == (4, 6)  # two of three labels right, twice
    assert later["gold_exact_sets"]["seen"] == 2


def lease_on(worker: User, item: Item, *, held: float = 0) -> int:
    """A lease of `item` the worker has held `held` seconds: the longest answer time the server
    takes from a seconds_spent sent on it."""
    now = timezone.now()
    return Lease.objects.create(
        job=item.job, item=item, worker=worker, created_at=now - timedelta(seconds=held),
        expires_at=now + timedelta(minutes=5),
    ).pk


def row_figures(api: APIClient, job: Job) -> dict[str, Any]:
    """Her row's agreement and answer time as /me/quality/ gives them, and the overall ones."""
    body = api.get("/api/v1/me/quality/").json()
    (row,) = [row for row in body["jobs"] if row["job"] == job.pk]
    return {"agreement": (row["agreement"], row["agreement_judgments"]), "median": row["median_seconds"],
            "overall": (body["overall"]["agreement_judgments"], body["overall"]["median_seconds"])}


def test_a_late_rows_agreement_and_answer_time_wait_for_the_cutoff_as_its_counts_do(
    closed_book: Job, wendy: User, walter: User, client_for: Any
) -> None:
    """Walter answered two items and a consensus run labelled them. Wendy's answer to one of
    them moved "agreement over N answers" at once (a check item, which no run labels, would not
    have), and her answer time with it: the row said "late" but told each answer live."""
    first, second, third = Item.objects.filter(job=closed_book, is_gold=False).order_by("id")
    for item in (first, second):
        client_for(walter).post(f"/api/v1/work/leases/{lease_on(walter, item)}/submit/", {"label": "cat"},
                                format="json")
    consensus_run(job=closed_book)
    api = client_for(wendy)
    sent = api.post(f"/api/v1/work/leases/{lease_on(wendy, third, held=10)}/submit/",
                    {"label": "cat", "seconds_spent": "4"}, format="json")  # her row exists from here
    assert sent.status_code == 201
    before = row_figures(api, closed_book)

    sent = api.post(f"/api/v1/work/leases/{lease_on(wendy, first, held=10)}/submit/",
                    {"label": "cat", "seconds_spent": "8"}, format="json")  # on an item the run labelled
    assert sent.status_code == 201

    assert row_figures(api, closed_book) == before == {
        "agreement": (None, 0), "median": None, "overall": (0, None)
    }
    with hours_later():
        later = row_figures(api, closed_book)
    assert later == {"agreement": (1.0, 1), "median": 6.0, "overall": (1, 6.0)}


def items_left(page: Client, job: Job) -> int:
    """The "Items left" cell of the job's row on the work list (named by its label for narrow screens)."""
    html = page.get(reverse("work-list")).content.decode()
    row = html[html.index(f"<strong>{job.title}</strong>"):]
    found = re.search(r'<td class="num" data-label="Items left">(\d+)</td>', row)
    assert found is not None, row[:400]
    return int(found.group(1))


def test_items_left_on_the_work_list_moves_for_no_one_answer_so_it_cannot_tell_check_items(
    wendy: User, walter: User, alice: User, client_for: Any
) -> None:
    """One answer completes a regular item (overlap 1), none a check item: live, Wendy's submit
    and a reload told them apart, and so did Walter's reload for her. The periodic job records the
    job's progress once an hour (quality/progress.py); its ticks run here as they would on time."""
    quiet = open_job_with_items(title="Quiet closed book", items=4, gold=2, gold_label="cat", overlap=1,
                                organization=alice.organization, quality_rules=CLOSED)
    progress_snapshots_tick()
    api, hers, his = client_for(wendy), signed_in(wendy), signed_in(walter)
    before = items_left(hers, quiet)
    submit(api, hand(wendy, quiet, gold=False), "dog")  # completes its item
    after_regular = (items_left(hers, quiet), items_left(his, quiet))
    submit(api, hand(wendy, quiet, gold=True), "dog")
    progress_snapshots_tick()  # a later tick within the hour
    after_gold = (items_left(hers, quiet), items_left(his, quiet))

    assert before == 4 and after_regular == after_gold == (4, 4)
    counts = client_for(alice).get(f"/api/v1/jobs/{quiet.pk}/").json()["counts"]
    assert counts["completed_items"] == 1  # the client's count is live
    with hours_later(1):
        progress_snapshots_tick()
        assert items_left(hers, quiet) == 4  # the cutoff is the hour both answers came in
    with hours_later(2):
        assert items_left(hers, quiet) == 3  # at the step, with the rest of that hour's


def test_items_left_of_a_job_that_shows_gold_feedback_stays_live(wendy: User, client_for: Any) -> None:
    open_book = open_job_with_items(title="Open book", items=4, gold=2, gold_label="cat", overlap=1)
    submit(client_for(wendy), hand(wendy, open_book, gold=False), "dog")  # a regular item: no feedback
    assert items_left(signed_in(wendy), open_book) == 3


def test_agreement_counts_over_the_answers_the_answer_count_counts_so_never_a_check_item(
    closed_book: Job, wendy: User, walter: User, ada: User, client_for: Any
) -> None:
    """A run labels check items too: agreement "over 2 answers" beside "1 answer" said one of
    the two was a check item (and, answer by answer, which)."""
    regular = Item.objects.filter(job=closed_book, is_gold=False).order_by("id")[0]
    check = Item.objects.filter(job=closed_book, is_gold=True).order_by("id")[0]
    for worker in (walter, wendy):
        for item in (regular, check):
            sent = client_for(worker).post(f"/api/v1/work/leases/{lease_on(worker, item)}/submit/",
                                           {"label": "cat"}, format="json")
            assert sent.status_code == 201
    consensus_run(job=closed_book)

    with hours_later():
        body = client_for(wendy).get("/api/v1/me/quality/").json()
    (row,) = body["jobs"]
    assert (row["judgments"], row["agreement_judgments"], row["agreement"]) == (1, 1, 1.0)
    assert body["overall"]["agreement_judgments"] == 1 and row["gold"]["seen"] == 1
    admin = client_for(ada).get(f"/api/v1/quality/workers/{wendy.pk}/").json()["jobs"][0]
    assert (admin["judgments"], admin["agreement_judgments"]) == (1, 1)  # the same answers for all
