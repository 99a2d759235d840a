"""Label keys and shortcuts in the wizard, in a real browser: the ones derived from the names are
suggested (each empty box's placeholder) and follow the names, after a refused save too; the
ones Alice types are hers. (Before: the suggestions were written into the boxes, came back from
a refused save as if typed, and a renamed label kept its old key: "Bad" saved as `negative`.)
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from marketplace.accounts.models import User
from marketplace.jobs.models import Job
from tests.browser.conftest import log_in
from tests.factories import PASSWORD


def test_a_label_renamed_after_a_refused_save_gets_the_new_names_key_and_shortcut(page: Any, alice: User) -> None:
    log_in(page, "alice", PASSWORD)
    page.goto("/portal/jobs/new/")
    page.get_by_label("Title").fill("Review sentiment")
    page.get_by_label("Label 1 name").fill("Positive")
    page.get_by_label("Label 1 shortcut").fill("u")  # kept for undo: refused
    page.get_by_label("Label 2 name").fill("Negative")
    expect(page.get_by_label("Label 2 key")).to_have_attribute("placeholder", "negative")
    expect(page.get_by_label("Label 2 shortcut")).to_have_attribute("placeholder", "n")
    page.get_by_role("button", name="Save and continue to items →").click()
    expect(page.locator("#labels-error")).to_contain_text("Label 1: shortcut 'u' is reserved")

    key, shortcut = page.get_by_label("Label 2 key"), page.get_by_label("Label 2 shortcut")
    expect(key).to_have_value("")  # still a suggestion, not something she typed
    expect(key).to_have_attribute("placeholder", "negative")
    page.get_by_label("Label 1 shortcut").fill("")
    page.get_by_label("Label 2 name").fill("Bad")
    expect(key).to_have_attribute("placeholder", "bad")
    expect(shortcut).to_have_attribute("placeholder", "b")
    page.get_by_role("button", name="Save and continue to items →").click()
    page.wait_for_url(re.compile(r"/setup/items/$"))
    assert Job.objects.get(organization=alice.organization).labels == [
        {"key": "positive", "name": "Positive", "shortcut": "p"},
        {"key": "bad", "name": "Bad", "shortcut": "b"},
    ]


def test_a_typed_key_stays_when_the_name_changes(page: Any, alice: User) -> None:
    log_in(page, "alice", PASSWORD)
    page.goto("/portal/jobs/new/")
    page.get_by_label("Title").fill("Review sentiment")
    page.get_by_label("Label 1 name").fill("Good")
    page.get_by_label("Label 1 key").fill("pos")
    page.get_by_label("Label 2 name").fill("Bad")
    page.get_by_label("Label 1 name").fill("Great")
    expect(page.get_by_label("Label 1 key")).to_have_value("pos")
    expect(page.get_by_label("Label 1 shortcut")).to_have_attribute("placeholder", "g")
    page.get_by_role("button", name="Save and continue to items →").click()
    page.wait_for_url(re.compile(r"/setup/items/$"))
    assert Job.objects.get(organization=alice.organization).labels == [
        {"key": "pos", "name": "Great", "shortcut": "g"},
        {"key": "bad", "name": "Bad", "shortcut": "b"},
    ]
