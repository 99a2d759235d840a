"""Staff portal: the worker review table and a worker's page (block and unblock with a reason).

The cast: Ada is the admin; Alice (a client) and Wendy (a worker) must not even learn these
pages exist (404). Goodwin answers every gold item right; Mallory misses most of hers, but not
yet enough gold answers for the job's automatic rule (18) to block her, so Ada does.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import JobBlock, Judgment, JudgmentStatus
from marketplace.quality.models import QualityEvent
from marketplace.quality.runs import consensus_run
from marketplace.web.staff.workers import WORKER_COLUMNS
from tests.billing.helpers import work_through_flow
from tests.factories import WorkerFactory
from tests.quality.worker_helpers import answer_gold, gold_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowd() -> tuple[Job, User, User]:
    job = gold_job(title="Animals")
    goodwin, mallory = WorkerFactory(username="goodwin"), WorkerFactory(username="mallory")
    answer_gold(goodwin, job, right=8, wrong=0, seconds="6")
    answer_gold(mallory, job, right=1, wrong=7, seconds="1", regular="dog")
    assert consensus_run(job=job).status == "succeeded"
    return job, goodwin, mallory


def _as(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def _usernames(response: Any) -> list[str]:
    return [row.username for row in response.context["rows"]]


def test_clients_and_workers_get_404_on_every_staff_page(client: Client, alice: User, wendy: User,
                                                          crowd: tuple[Job, User, User]) -> None:
    _, _, mallory = crowd
    gets = [reverse("staff-workers"), reverse("staff-worker", args=[mallory.pk])]
    posts = [reverse("staff-worker-block", args=[mallory.pk]), reverse("staff-worker-unblock", args=[mallory.pk])]
    for user in (alice, wendy):
        _as(client, user)
        for url in gets:
            assert client.get(url).status_code == 404, url
        for url in posts:
            assert client.post(url, {"job": "all", "reason": "x", "confirm": "yes"}).status_code == 404, url
    assert not JobBlock.objects.exists()
    client.logout()
    assert client.get(gets[0])["Location"].startswith(reverse("login"))


def test_the_staff_portals_own_address_opens_its_first_page_for_admins_only(
    client: Client, alice: User, wendy: User, ada: User
) -> None:
    answer = _as(client, ada).get("/staff/", follow=True)
    assert answer.redirect_chain == [(reverse("staff-workers"), 302)] and answer.status_code == 200
    for user in (alice, wendy):
        assert _as(client, user).get("/staff/").status_code == 404
    client.logout()
    assert client.get("/staff/")["Location"].startswith(reverse("login"))


def test_the_staff_quality_pages_answer_by_role_before_the_method(
    client: Client, alice: User, wendy: User, ada: User, crowd: tuple[Job, User, User]
) -> None:
    """A visitor is sent to log in and a non-admin gets 404 whatever the method; only an admin
    learns that blocking takes a POST."""
    _, _, mallory = crowd
    gets = [reverse("staff-workers"), reverse("staff-worker", args=[mallory.pk])]
    posts = [reverse("staff-worker-block", args=[mallory.pk]), reverse("staff-worker-unblock", args=[mallory.pk])]
    for url in gets + posts:
        for response in (client.get(url), client.post(url)):
            assert response.status_code == 302 and response["Location"].startswith("/login/?next="), url
    for user in (alice, wendy):
        _as(client, user)
        for url in gets:
            assert client.post(url).status_code == 404, url
        for url in posts:
            assert client.get(url).status_code == 404, url
    _as(client, ada)
    for url in gets:
        assert client.post(url).status_code == 405, url
    for url in posts:
        assert client.get(url).status_code == 405, url  # staff learn blocking takes a POST
    assert not JobBlock.objects.exists()


def test_the_review_table_shows_gold_accuracy_with_its_interval_ds_agreement_and_speed(
    client: Client, ada: User, crowd: tuple[Job, User, User]
) -> None:
    response = _as(client, ada).get(reverse("staff-workers"))
    assert response.status_code == 200
    assert _usernames(response) == ["mallory", "goodwin"]  # worst gold accuracy first
    mallory, goodwin = response.context["rows"]
    assert (mallory.gold.seen, mallory.gold.correct) == (8, 1) and mallory.gold.smoothed == pytest.approx(0.2)
    assert mallory.gold.low < mallory.gold.smoothed < mallory.gold.high
    assert goodwin.ds_accuracy is not None and mallory.ds_accuracy is not None
    assert goodwin.ds_accuracy > mallory.ds_accuracy
    assert goodwin.agreement is not None and mallory.median_seconds == pytest.approx(1.0)
    html = response.content.decode()
    assert 'data-live-socket="/ws/staff/"' in html and 'class="chart histogram"' in html
    assert "0.20" in html and reverse("staff-worker", args=[goodwin.worker_id]) in html


def test_every_column_sorts_both_ways(client: Client, ada: User, crowd: tuple[Job, User, User]) -> None:
    _as(client, ada)
    for key, _, _ in WORKER_COLUMNS:
        up = client.get(reverse("staff-workers"), {"sort": key})
        down = client.get(reverse("staff-workers"), {"sort": f"-{key}"})
        assert up.status_code == down.status_code == 200, key
        assert sorted(_usernames(up)) == sorted(_usernames(down)) == ["goodwin", "mallory"], key
        if key in {"accuracy", "ds", "agreement"}:
            assert _usernames(up) == ["mallory", "goodwin"] and _usernames(down) == ["goodwin", "mallory"], key
        if key == "speed":
            assert _usernames(up) == ["mallory", "goodwin"]  # the fastest answers first
        head = next(h for h in up.context["headers"] if h["key"] == key)
        assert head["aria_sort"] == "ascending" and f"sort=-{key}" in head["url"]  # a second click reverses


def test_sort_and_filter_params_outside_the_whitelist_are_ignored(
    client: Client, ada: User, crowd: tuple[Job, User, User]
) -> None:
    _as(client, ada)
    for params in [
        {"sort": "password"}, {"sort": "-__class__"}, {"sort": "worker__password"}, {"status": "'; DROP TABLE"},
        {"min_gold": "-3"}, {"min_gold": "abc"}, {"page": "999"}, {"page": "x"}, {"job": "nope"},
    ]:
        response = client.get(reverse("staff-workers"), params)
        assert response.status_code == 200, params
        assert _usernames(response) == ["mallory", "goodwin"], params  # the default: accuracy, worst first
    assert client.get(reverse("staff-workers"), {"q": "a" * 5000}).status_code == 200


def test_filters_narrow_the_table(client: Client, ada: User, crowd: tuple[Job, User, User]) -> None:
    job, _, mallory = crowd
    _as(client, ada)
    assert _usernames(client.get(reverse("staff-workers"), {"q": "MALL"})) == ["mallory"]
    assert _usernames(client.get(reverse("staff-workers"), {"min_gold": "9"})) == []
    assert _usernames(client.get(reverse("staff-workers"), {"status": "blocked"})) == []
    client.post(reverse("staff-worker-block", args=[mallory.pk]), {"job": job.pk, "reason": "spam", "confirm": "yes"})
    assert _usernames(client.get(reverse("staff-workers"), {"status": "blocked"})) == ["mallory"]
    assert _usernames(client.get(reverse("staff-workers"), {"status": "active"})) == ["goodwin"]


def test_a_workers_page_shows_the_heat_map_gold_history_and_events(
    client: Client, ada: User, crowd: tuple[Job, User, User]
) -> None:
    job, _, mallory = crowd
    response = _as(client, ada).get(reverse("staff-worker", args=[mallory.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="chart heatmap"' in html and "pooled over 1 job" in html
    history = [row["j"] for row in response.context["gold_history"]]
    assert len(history) == 8 and sum(not j.is_correct for j in history) == 7
    assert {(j.item.gold.label, j.label) for j in history if not j.is_correct} == {("cat", "dog")}
    assert response.context["blockable"] == [(job.pk, "Animals")]
    one_job = client.get(reverse("staff-worker", args=[mallory.pk]), {"job": job.pk})
    assert one_job.context["heat_job"] == job.pk and len(one_job.context["heatmaps"]) == 1


def test_blocking_from_the_page_drops_the_worker_and_records_the_reason(
    client: Client, ada: User, crowd: tuple[Job, User, User]
) -> None:
    job, goodwin, mallory = crowd
    response = _as(client, ada).post(reverse("staff-worker-block", args=[mallory.pk]),
                                     {"job": str(job.pk), "reason": "7 of 8 gold answers wrong", "confirm": "yes"},
                                     follow=True)
    assert response.status_code == 200
    assert JobBlock.objects.filter(job=job, worker=mallory).exists()
    assert not Judgment.objects.filter(job=job, worker=mallory, status=JudgmentStatus.ACCEPTED).exists()
    assert Judgment.objects.filter(job=job, worker=goodwin, status=JudgmentStatus.ACCEPTED).exists()
    event = QualityEvent.objects.get(worker=mallory, kind=QualityEvent.Kind.BLOCKED)
    assert (event.reason, event.actor, event.automatic) == ("7 of 8 gold answers wrong", ada, False)
    html = response.content.decode()
    assert "mallory is blocked from Animals" in html and "7 of 8 gold answers wrong" in html
    assert response.context["blockable"] == [] and response.context["blocked_jobs"] == [(job.pk, "Animals")]


def test_a_block_without_a_reason_a_confirmation_or_a_valid_job_changes_nothing(
    client: Client, ada: User, crowd: tuple[Job, User, User]
) -> None:
    job, _, mallory = crowd
    _as(client, ada)
    for form in [
        {"reason": "", "confirm": "yes"}, {"reason": "   ", "confirm": "yes"}, {"reason": "spam"},
        {"reason": "spam", "confirm": "yes", "job": "999999"}, {"reason": "spam", "confirm": "yes", "job": "<b>x"},
    ]:
        response = client.post(reverse("staff-worker-block", args=[mallory.pk]), {"job": str(job.pk), **form})
        assert response.status_code == 400 and response.context["block_errors"], form
        assert "<b>x" not in response.content.decode()
    assert not JobBlock.objects.exists()
    assert Judgment.objects.filter(worker=mallory, status=JudgmentStatus.ACCEPTED).exists()


def test_block_on_all_jobs_blocks_every_job_the_worker_works_in_then_unblock_with_a_reason(
    client: Client, ada: User, crowd: tuple[Job, User, User]
) -> None:
    job, _, mallory = crowd
    other = gold_job(title="Vehicles")
    answer_gold(mallory, other, right=0, wrong=2)
    _as(client, ada).post(reverse("staff-worker-block", args=[mallory.pk]),
                          {"job": "all", "reason": "a spammer everywhere", "confirm": "yes"})
    assert set(JobBlock.objects.filter(worker=mallory).values_list("job_id", flat=True)) == {job.pk, other.pk}

    refused = client.post(reverse("staff-worker-unblock", args=[mallory.pk]), {"job": str(other.pk), "reason": ""})
    assert refused.status_code == 400 and JobBlock.objects.filter(worker=mallory).count() == 2
    client.post(reverse("staff-worker-unblock", args=[mallory.pk]), {"job": str(other.pk), "reason": "appeal upheld"})
    assert list(JobBlock.objects.filter(worker=mallory).values_list("job_id", flat=True)) == [job.pk]
    event = QualityEvent.objects.get(worker=mallory, kind=QualityEvent.Kind.UNBLOCKED)
    assert (event.job_id, event.reason, event.actor) == (other.pk, "appeal upheld", ada)


def test_only_workers_have_a_worker_page(client: Client, ada: User, alice: User) -> None:
    _as(client, ada)
    assert client.get(reverse("staff-worker", args=[alice.pk])).status_code == 404
    assert client.get(reverse("staff-worker", args=[ada.pk])).status_code == 404
    assert client.get(reverse("staff-worker", args=[987654])).status_code == 404


def test_item_data_in_the_gold_history_is_shown_as_text(client: Client, ada: User) -> None:
    from marketplace.jobs.services import ItemRow, item_bulk_create
    from tests.factories import open_job_with_items

    job = open_job_with_items(items=20, publish=False, gold_rate="0.5")
    item_bulk_create(job=job, rows=[ItemRow(data={"text": "<script>alert(1)</script>"}, external_id="x",
                                            gold_label="cat")], gold=True)
    from tests.factories import publish_funded

    job.refresh_from_db()
    job = publish_funded(job)
    eve = WorkerFactory(username="eve")
    answer_gold(eve, job, right=0, wrong=1)
    html = _as(client, ada).get(reverse("staff-worker", args=[eve.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # Readable: the field's name beside its value, not a JSON object; labels by their names.
    assert "<dt>text</dt><dd>&lt;script&gt;" in html and "{&quot;text&quot;" not in html


def test_the_gold_history_names_the_labels_and_cuts_long_fields(client: Client, ada: User) -> None:
    from marketplace.jobs.services import ItemRow, item_bulk_create
    from tests.factories import open_job_with_items, publish_funded

    job = open_job_with_items(items=20, publish=False, gold_rate="0.5",
                              labels=[{"key": "cat", "name": "Cat (feline)"}, {"key": "dog", "name": "Dog (canine)"}])
    data = {"text": "x" * 500, "a": 1, "b": [1, 2], "c": "hidden"}
    item_bulk_create(job=job, rows=[ItemRow(data=data, external_id="long", gold_label="cat")], gold=True)
    job.refresh_from_db()
    job = publish_funded(job)
    eve = WorkerFactory(username="eve")
    answer_gold(eve, job, right=0, wrong=1)
    response = _as(client, ada).get(reverse("staff-worker", args=[eve.pk]))
    (row,) = response.context["gold_history"]
    assert (row["expected"], row["answered"]) == ("Cat (feline)", "Dog (canine)")
    shown = dict(row["fields"])  # the database's key order (jsonb), three of the four
    assert len(shown) == 3 and set(shown) < set(data) and row["more_fields"] == 1
    assert all(len(value) <= 80 for value in shown.values()) and shown.get("b", "[1, 2]") == "[1, 2]"
    assert "and 1 more field" in response.content.decode()


def test_blocking_from_a_job_that_has_ended_says_it_drops_nothing_and_drops_nothing(client: Client, ada: User) -> None:
    """Wanda labeled the whole "Sentiment" job, which completed. A block there stops nothing and
    drops nothing (delivered results never change), so the form and the message must not say
    her judgments are dropped and the items reopened, as they did."""
    job = gold_job(items=3, gold=2, overlap=1, title="Sentiment")
    wanda = WorkerFactory(username="wanda")
    for _ in range(20):
        if Job.objects.get(pk=job.pk).status != JobStatus.OPEN:
            break
        work_through_flow(wanda, job)
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED
    accepted = set(Judgment.objects.filter(job=job, worker=wanda, status=JudgmentStatus.ACCEPTED).values_list("pk", flat=True))
    assert accepted

    page = _as(client, ada).get(reverse("staff-worker", args=[wanda.pk])).content.decode()
    assert "Sentiment (completed: nothing is dropped)</option>" in page
    assert "I understand: in a job that has ended (completed or cancelled) no judgment is dropped" in page
    assert "their judgments are dropped" not in page and "the items reopen," not in page

    response = client.post(reverse("staff-worker-block", args=[wanda.pk]),
                           {"job": str(job.pk), "reason": "copied answers", "confirm": "yes"}, follow=True)
    said = response.content.decode()
    assert ("wanda is blocked from Sentiment, which has ended (completed): no judgment is dropped and no item "
            "reopened, delivered results stay as they were; no pay is withdrawn.") in said
    assert "dropped and the items reopened" not in said
    assert JobBlock.objects.filter(job=job, worker=wanda).exists()
    assert set(Judgment.objects.filter(job=job, worker=wanda, status=JudgmentStatus.ACCEPTED)
               .values_list("pk", flat=True)) == accepted
    assert Job.objects.get(pk=job.pk).status == JobStatus.COMPLETED


def test_blocking_from_a_running_job_says_what_it_dropped(client: Client, ada: User, crowd: tuple[Job, User, User]) -> None:
    job, _, mallory = crowd
    dropped = Judgment.objects.filter(job=job, worker=mallory, status=JudgmentStatus.ACCEPTED).count()
    page = _as(client, ada).get(reverse("staff-worker", args=[mallory.pk])).content.decode()
    assert "I understand: in a running job their judgments are dropped, the items reopen" in page
    assert "has ended" not in page and "nothing is dropped" not in page
    response = client.post(reverse("staff-worker-block", args=[mallory.pk]),
                           {"job": str(job.pk), "reason": "7 of 8 gold answers wrong", "confirm": "yes"}, follow=True)
    assert f"mallory is blocked from Animals: {dropped} judgments dropped, " in response.content.decode()


def test_a_block_reason_over_2000_characters_is_refused_on_the_page_and_the_api_and_never_cut(
    client: Client, ada: User, crowd: tuple[Job, User, User], client_for: Any
) -> None:
    """The README's limit for a reason is 2,000 characters. The page cut a longer one at the limit
    and recorded the cut text without a word; it is refused, whole, beside the form's other errors."""
    job, goodwin, mallory = crowd
    url = reverse("staff-worker-block", args=[mallory.pk])
    too_long = "x" * 100_000
    refused = _as(client, ada).post(url, {"job": str(job.pk), "reason": too_long, "confirm": "yes"})
    assert refused.status_code == 400
    assert refused.context["block_errors"] == ["The reason is 100,000 characters long; at most 2,000 are allowed."]
    assert refused.context["form"]["reason"] == too_long  # kept as typed, to be shortened
    api = client_for(ada).post(f"/api/v1/jobs/{job.pk}/workers/{goodwin.pk}/block/", {"reason": "y" * 2001},
                               format="json")
    assert api.status_code == 400 and "at most 2,000 are allowed" in api.json()["error"]["message"]
    assert not JobBlock.objects.exists() and not QualityEvent.objects.filter(kind=QualityEvent.Kind.BLOCKED).exists()

    assert client.post(url, {"job": str(job.pk), "reason": "z" * 2000, "confirm": "yes"}).status_code == 302
    assert QualityEvent.objects.get(worker=mallory, kind=QualityEvent.Kind.BLOCKED).reason == "z" * 2000
    unblock = client.post(reverse("staff-worker-unblock", args=[mallory.pk]), {"job": str(job.pk), "reason": too_long})
    assert unblock.status_code == 400 and "at most 2,000 are allowed" in unblock.context["unblock_errors"][0]
    assert JobBlock.objects.filter(worker=mallory).exists()
