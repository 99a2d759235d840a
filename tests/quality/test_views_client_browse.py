"""The data browser's portal pages (web/client/browse.py), through Django's test client.

Alice (Acme) owns the job; Carol (Globex) gets 404 for it; Wendy, a worker, gets 404 for every
client page; Ada, an admin, may browse any job's data.
"""

from __future__ import annotations

import csv
import html
import io
from typing import Any

import pytest
from django.test import Client

from marketplace.accounts.models import User
from marketplace.billing.models import IdempotentRequest, JobBudget
from marketplace.billing.selectors import organization_balance
from marketplace.jobs.models import Item, Job
from marketplace.quality.models import ConsensusRun, ExpertReview
from tests.factories import WorkerFactory, fund
from tests.quality.browse_helpers import browsed_job, judge
from tests.quality.worker_helpers import answer_gold, gold_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice: User) -> Job:
    return browsed_job(organization=alice.organization)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(job: Job, tail: str = "") -> str:
    return f"/portal/jobs/{job.pk}/data/{tail}"


def test_the_job_page_links_to_its_data(job: Job, alice: User) -> None:
    assert page(job).encode() in logged_in(alice).get(f"/portal/jobs/{job.pk}/").content


def test_the_client_sees_her_items_filtered_to_the_disagreements(job: Job, alice: User) -> None:
    answer = logged_in(alice).get(page(job), {"agreement_below": "0.9"})
    assert answer.status_code == 200
    shown = [row.external_id for row in answer.context["rows"]]
    assert shown == ["i2", "i3", "i4"]
    assert b"Download CSV of this filter" in answer.content


def test_a_bad_filter_says_what_is_wrong_with_a_400(job: Job, alice: User) -> None:
    answer = logged_in(alice).get(page(job), {"confidence_min": "NaN"})
    assert answer.status_code == 400 and b"confidence_min" in answer.content


def test_a_misspelled_filter_is_a_400_listing_the_filters_not_every_item(job: Job, alice: User) -> None:
    client = logged_in(alice)
    answer = client.get(page(job), {"agreement_belwo": "0.9"})
    assert answer.status_code == 400 and not answer.context["rows"]
    shown = answer.context["error"]
    assert "agreement_belwo" in shown and "agreement_below" in shown and "cursor" in shown
    assert "agreement_belwo" in client.get(page(job, "export/"), {"agreement_belwo": "0.9"}).content.decode()
    # A page's own keys stay allowed.
    assert client.get(page(job), {"agreement_below": "0.9", "page_size": "2"}).status_code == 200


def test_others_get_404_and_an_admin_may_browse(job: Job, carol: User, wendy: User, ada: User) -> None:
    item = job.items.first()
    for user in (carol, wendy):
        client = logged_in(user)
        assert client.get(page(job)).status_code == 404
        assert client.get(page(job, f"{item.pk}/")).status_code == 404
        assert client.get(page(job, "export/")).status_code == 404
        assert client.post(page(job, "expert/"), {"items": [item.pk]}).status_code == 404
    assert logged_in(ada).get(page(job)).status_code == 200


def test_the_breadcrumb_leads_each_role_to_a_jobs_list_it_may_open(job: Job, alice: User, ada: User) -> None:
    for user, jobs_list in ((alice, "/portal/jobs/"), (ada, "/staff/jobs/")):
        client = logged_in(user)
        crumbs = client.get(page(job)).content.decode().split('class="eyebrow">')[1].split("</p>")[0]
        first = crumbs.split('href="')[1].split('"')[0]
        assert first == jobs_list
        assert client.get(first).status_code == 200


def test_an_items_page_shows_pseudonyms_labels_and_the_posterior(job: Job, alice: User) -> None:
    item = Item.objects.get(job=job, external_id="i4")
    answer = logged_in(alice).get(page(job, f"{item.pk}/"))
    assert answer.status_code == 200
    text = answer.content.decode()
    for judgment in item.judgments.select_related("worker"):
        assert judgment.worker.username not in text
    assert [p["key"] for p in answer.context["posterior"]] and "Posterior of every label" in text


def test_more_judgments_show_the_cost_then_reopen_on_confirm(job: Job, alice: User) -> None:
    client = logged_in(alice)
    quote = client.post(page(job, "more/"), {"scope": "filter", "agreement_below": "0.9", "more": "2"})
    assert quote.status_code == 200
    hold = quote.context["quote"].hold
    assert quote.context["quote"].items == 3 and f"{hold:.2f}".encode() in quote.content
    assert not Item.objects.filter(job=job, extra_judgments__gt=0).exists()  # nothing yet
    fund(job.organization, hold)
    added = JobBudget.objects.get(job=job).added
    done = client.post(page(job, "more/"), {"scope": "filter", "agreement_below": "0.9", "more": "2",
                                             "confirm": "1", "key": quote.context["key"]})
    assert done.status_code == 302
    assert set(Item.objects.filter(job=job, extra_judgments=2, is_complete=False)
               .values_list("external_id", flat=True)) == {"i2", "i3", "i4"}
    assert JobBudget.objects.get(job=job).added == added + hold


def test_ticked_items_go_to_expert_review_after_a_quote_that_says_what_it_holds(job: Job, alice: User) -> None:
    fund(alice.organization, "5.00")
    client = logged_in(alice)
    ids = list(Item.objects.filter(job=job, external_id__in=["i0", "i1"]).values_list("pk", flat=True))
    quote = client.post(page(job, "expert/"), {"scope": "selection", "items": ids})
    assert quote.status_code == 200 and not ExpertReview.objects.exists()
    held = quote.context["quote"].hold
    assert held == 2 * quote.context["quote"].price and f"{held:.2f}" in quote.content.decode()
    added = JobBudget.objects.get(job=job).added
    answer = client.post(page(job, "expert/"), {"scope": "selection", "items": ids, "confirm": "1",
                                               "key": quote.context["key"]})
    assert answer.status_code == 302
    assert set(ExpertReview.objects.values_list("item_id", flat=True)) == set(ids)
    assert JobBudget.objects.get(job=job).added == added + held


def _confirm(client: Client, job: Job, action: str, form: dict[str, str]) -> dict[str, str]:
    """The confirm form of a fresh quote page: its fields, with the key that page made."""
    quote = client.post(page(job, action), form)
    assert quote.status_code == 200
    return {**form, "confirm": "1", "key": quote.context["key"]}


@pytest.mark.parametrize(("action", "form", "stored"), [
    ("more/", {"scope": "filter", "judged": "no", "more": "1"}, {"filter": {"judged": "no"}, "more": 1}),
    ("expert/", {"scope": "filter", "judged": "no"}, {"filter": {"judged": "no"}}),
], ids=["more judgments", "expert review"])
def test_the_whole_filter_sent_again_after_new_judgments_was_already_done_and_moves_nothing_more(
    job: Job, alice: User, action: str, form: dict[str, str], stored: dict[str, object]
) -> None:
    """Outside review: the form kept the items the filter found, not the filter, so the same form
    sent again once new judgments changed them was a 409 about an Idempotency-Key she never typed."""
    fund(alice.organization, "10.00")
    client = logged_in(alice)
    confirm = _confirm(client, job, action, form)
    assert client.post(page(job, action), confirm).status_code == 302
    balance = organization_balance(organization=alice.organization)
    assert judge(WorkerFactory(username="late"), job, lambda item: "cat").external_id in {"i6", "i7"}  # fewer unjudged

    again = client.post(page(job, action), confirm, follow=True).content.decode()

    assert "That request was already done." in again and "Idempotency" not in again
    assert organization_balance(organization=alice.organization) == balance
    assert IdempotentRequest.objects.get(job=job).body == stored  # the filter, as the API keeps it


def test_a_new_submission_of_the_same_choices_is_a_new_request(job: Job, alice: User) -> None:
    fund(alice.organization, "10.00")
    client = logged_in(alice)
    form = {"scope": "filter", "agreement_below": "0.9", "more": "1"}
    client.post(page(job, "more/"), _confirm(client, job, "more/", form))
    balance = organization_balance(organization=alice.organization)

    client.post(page(job, "more/"), _confirm(client, job, "more/", form))  # the quote page again: a new key

    assert organization_balance(organization=alice.organization) < balance
    assert set(Item.objects.filter(job=job, extra_judgments=2).values_list("external_id", flat=True)) == {
        "i2", "i3", "i4"}


def test_a_form_sent_again_with_other_choices_is_worded_for_the_page_and_changes_nothing(job: Job, alice: User) -> None:
    fund(alice.organization, "10.00")
    client = logged_in(alice)
    confirm = _confirm(client, job, "more/", {"scope": "filter", "agreement_below": "0.9", "more": "1"})
    client.post(page(job, "more/"), confirm)
    balance = organization_balance(organization=alice.organization)

    again = client.post(page(job, "more/"), {**confirm, "more": "2"}, follow=True).content.decode()

    assert "This form was already sent with other choices, so nothing more was done." in again
    assert "Idempotency" not in again
    assert organization_balance(organization=alice.organization) == balance
    assert not Item.objects.filter(job=job, extra_judgments=2).exists()


def test_the_csv_download_is_the_filtered_table(job: Job, alice: User) -> None:
    client = logged_in(alice)
    params = {"judged": "no"}
    shown = [row.id for row in client.get(page(job), params).context["rows"]]
    answer = client.get(page(job, "export/"), params)
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert [int(row["item_id"]) for row in rows] == shown and len(shown) == 3


def test_run_consensus_now_starts_a_run_from_the_portal(job: Job, alice: User, settings: Any) -> None:
    runs = ConsensusRun.objects.filter(job=job).count()
    answer = logged_in(alice).post(f"/portal/jobs/{job.pk}/consensus/", {"next": page(job)})
    assert answer.status_code == 302 and answer["Location"] == page(job)
    assert ConsensusRun.objects.filter(job=job).count() == runs + 1
    assert ConsensusRun.objects.filter(job=job).latest("id").status == ConsensusRun.Status.SUCCEEDED


def _ticked(body: str, item_id: int) -> bool:
    return f'value="{item_id}" aria-label="Choose item {item_id}" checked' in body


@pytest.mark.parametrize("more", ["0", "11", "-1", "two"])
def test_a_refused_number_of_judgments_keeps_the_ticked_items_the_number_and_the_filter(
    job: Job, alice: User, more: str
) -> None:
    ids = list(Item.objects.filter(job=job, external_id__in=["i0", "i1"]).values_list("pk", flat=True))
    answer = logged_in(alice).post(page(job, "more/"), {"scope": "selection", "items": ids, "more": more,
                                                        "sort": "confidence"})
    body = answer.content.decode()
    assert answer.status_code == 400
    assert "Ask for 1 to 10 more judgments per item." in body and "more:" not in body
    assert all(_ticked(body, i) for i in ids) and f'name="more" type="number" min="1" max="10" value="{more}"' in body
    assert '<option value="confidence" selected>' in body
    assert not Item.objects.filter(job=job, extra_judgments__gt=0).exists()


def test_back_from_the_quote_shows_the_table_as_it_was_left(job: Job, alice: User) -> None:
    client = logged_in(alice)
    ids = list(Item.objects.filter(job=job, external_id__in=["i0", "i1"]).values_list("pk", flat=True))
    form = {"scope": "selection", "items": ids, "more": "3", "judged": "yes"}
    quote = client.post(page(job, "more/"), form)
    assert quote.status_code == 200 and 'name="back"' in quote.content.decode()
    back = client.post(page(job, "more/"), {**form, "key": quote.context["key"], "back": "1"})
    body = back.content.decode()
    assert back.status_code == 200 and all(_ticked(body, i) for i in ids) and 'value="3"' in body
    assert '<option value="yes" selected>Judged</option>' in body
    assert not Item.objects.filter(job=job, extra_judgments__gt=0).exists()


def test_gold_items_show_their_answers_as_the_item_page_does_and_no_overlap_target(alice: User) -> None:
    """Two workers each answer both gold items of Alice's job once: each gold item has 2 answers.
    A gold item's answers never count towards an overlap (gold has no target: it is served at the
    job's gold rate), so its row showed "0 wants 1" while its item page listed 2 judgments."""
    job = gold_job(items=6, gold=2, overlap=1, organization=alice.organization)
    for name in ("gina", "gus"):
        answer_gold(WorkerFactory(username=name), job, right=2, wrong=0)
    gold = list(Item.objects.filter(job=job, is_gold=True).order_by("pk"))
    client = logged_in(alice)

    rows = client.get(page(job), {"gold": "yes"}).context["rows"]
    assert [(row.id, row.judgment_count) for row in rows] == [(item.pk, 2) for item in gold]
    text = client.get(page(job), {"gold": "yes"}).content.decode()
    assert 'data-cell="judgments">2</span> <span class="small muted">gold answers</span>' in text
    assert "wants" not in text
    item_page = client.get(page(job, f"{gold[0].pk}/")).content.decode()
    assert "data-judgment-count>2<" in item_page and "with no judgment target" in item_page
    assert '"text": "gold 0"' in html.unescape(item_page)  # JSON, as the list shows it, not a Python repr

    api = client.get(f"/api/v1/jobs/{job.pk}/browse/", {"gold": "yes"}).json()["results"]
    assert [row["judgment_count"] for row in api] == [2, 2]  # what the page's live refresh writes
    judged = {row.id for row in client.get(page(job), {"judged": "yes"}).context["rows"]}
    assert {item.pk for item in gold} <= judged
    csv_rows = csv.DictReader(io.StringIO(b"".join(
        client.get(page(job, "export/"), {"gold": "yes"}).streaming_content).decode()))
    assert [row["judgments"] for row in csv_rows] == ["2", "2"]
