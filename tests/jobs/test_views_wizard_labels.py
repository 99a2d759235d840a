"""The wizard's first step and its labels: every problem is reported in one round, each label
named as the page names it ("Label 3"), never the API's "labels[2]"; and keys and shortcuts
left to be derived from the names follow the names, on a saved draft too, while typed ones stay.

Alice is Acme's client.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from tests.factories import open_job_with_items
from tests.portal import browser

pytestmark = pytest.mark.django_db


def rows(*labels: tuple[str, str, str], title: str = "Reviews") -> dict[str, str]:
    """The form as sent: one (name, key, shortcut) per row, in the page's order."""
    data = {"title": title, "instructions": ""}
    for i, (name, key, shortcut) in enumerate(labels):
        data.update({f"label-{i}-name": name, f"label-{i}-key": key, f"label-{i}-shortcut": shortcut})
    return data


def test_every_problem_of_the_first_step_is_shown_at_once_in_the_pages_words(alice: User) -> None:
    sent = rows(("Positive", "", "u"), ("positive ", "", ""), title="")
    response = browser(alice).post(reverse("job-create"), sent)
    body = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in body  # the title…
    assert "Label 1: shortcut &#x27;u&#x27; is reserved" in body  # …and every label's problem
    assert "Label 2: key &#x27;positive&#x27; appears twice." in body
    assert "Label 2: name &#x27;positive&#x27; reads the same as Label 1&#x27;s" in body
    assert "labels[" not in body and not Job.objects.exists()


def test_too_few_labels_and_a_missing_title_are_reported_together(alice: User) -> None:
    body = browser(alice).post(reverse("job-create"), rows(("Cat", "", ""), title="")).content.decode()
    assert "This field is required." in body and "Give 2 to 50 labels: a name in each row you use." in body


def test_a_label_is_named_by_its_row_on_the_page_counting_blank_rows(alice: User) -> None:
    body = browser(alice).post(reverse("job-create"), rows(("Cat", "", ""), ("", "", ""), ("Cat", "", ""))
                               ).content.decode()
    assert "Label 3: key &#x27;cat&#x27; appears twice." in body


def test_a_title_with_an_invisible_character_is_reported_beside_the_labels(alice: User) -> None:
    body = browser(alice).post(reverse("job-create"), rows(("Cat", "", "u"), ("Dog", "", ""), title="Re\u202eviews")
                               ).content.decode()
    assert "Title holds an invisible control character (U+202E)" in body and "Label 1: shortcut" in body


def test_an_error_sends_back_only_what_was_typed_so_a_renamed_label_gets_a_new_key(alice: User) -> None:
    """The newuser audit's steps, without JavaScript: nothing derived is written into the boxes."""
    client = browser(alice)
    refused = client.post(reverse("job-create"), rows(("Positive", "", "u"), ("Negative", "", ""))).content.decode()
    assert 'name="label-1-key" value=""' in refused and 'name="label-1-shortcut" value=""' in refused
    assert client.post(reverse("job-create"), rows(("Positive", "", ""), ("Bad", "", ""))).status_code == 302
    assert Job.objects.get().labels == [{"key": "positive", "name": "Positive", "shortcut": "p"},
                                        {"key": "bad", "name": "Bad", "shortcut": "b"}]


def test_on_a_saved_draft_derived_keys_follow_a_rename_and_typed_ones_stay(alice: User) -> None:
    client = browser(alice)
    client.post(reverse("job-create"), rows(("Negative", "", ""), ("Neutral", "meh", "x")))
    job = Job.objects.get()
    page = client.get(reverse("client-job-setup", args=[job.pk])).content.decode()
    assert 'name="label-0-key" value=""' in page and 'name="label-0-shortcut" value=""' in page
    assert 'name="label-1-key" value="meh"' in page and 'name="label-1-shortcut" value="x"' in page
    client.post(reverse("client-job-setup", args=[job.pk]), rows(("Bad", "", ""), ("Neutral", "meh", "x")))
    job.refresh_from_db()
    assert job.labels == [{"key": "bad", "name": "Bad", "shortcut": "b"},
                          {"key": "meh", "name": "Neutral", "shortcut": "x"}]


def test_a_draft_with_gold_keeps_its_keys_which_the_gold_answers_name(alice: User) -> None:
    job = open_job_with_items(items=2, gold=1, organization=alice.organization, created_by=alice, publish=False)
    page = browser(alice).get(reverse("client-job-setup", args=[job.pk])).content.decode()
    assert f'name="label-0-key" value="{job.labels[0]["key"]}"' in page
