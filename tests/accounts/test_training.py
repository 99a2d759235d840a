"""Services behind the qualification pages: training items, editing a qualification, exam files.

Alice (Acme's client) owns "Acme birds"; Carol (Globex's client) must not change it.
"""

from __future__ import annotations

import pytest

from marketplace.accounts.exam_files import exam_file_parse
from marketplace.accounts.models import Qualification, TrainingItem, User
from marketplace.accounts.qualifications import qualification_create, qualification_update
from marketplace.accounts.selectors import training_answer_check, training_item_at
from marketplace.accounts.training import training_items_add
from marketplace.errors import ApplicationError, PermissionDenied
from tests.factories import THREE_LABELS

pytestmark = pytest.mark.django_db


@pytest.fixture
def skill(alice: User) -> Qualification:
    return qualification_create(user=alice, name="Acme birds", exam_labels=THREE_LABELS)


def test_practice_items_are_added_all_or_none(alice: User, skill: Qualification) -> None:
    with pytest.raises(ApplicationError, match=r"items\[2\].explanation"):
        training_items_add(user=alice, qualification=skill, items=[
            {"data": {"text": "ok"}, "answer": "cat"},
            {"data": {"text": "long"}, "answer": "cat", "explanation": "x" * 2001}])
    assert not TrainingItem.objects.exists()


def test_another_organization_cannot_add_practice_items_or_edit(carol: User, skill: Qualification) -> None:
    with pytest.raises(PermissionDenied):
        training_items_add(user=carol, qualification=skill, items=[{"data": {"text": "x"}, "answer": "cat"}])
    with pytest.raises(PermissionDenied):
        qualification_update(user=carol, qualification=skill, name="Hijacked", exam_labels=THREE_LABELS)
    skill.refresh_from_db()
    assert skill.name == "Acme birds" and not TrainingItem.objects.exists()


def test_a_worker_gets_a_practice_item_without_its_answer_then_the_verdict(alice: User,
                                                                           skill: Qualification) -> None:
    training_items_add(user=alice, qualification=skill, items=[
        {"data": {"text": "Purrs"}, "answer": "cat", "explanation": "Cats purr."}])
    shown = training_item_at(qualification=skill, position=0)
    assert shown is not None and set(shown) == {"id", "data"}
    assert training_item_at(qualification=skill, position=1) is None
    verdict = training_answer_check(qualification=skill, item_id=shown["id"], label="dog")
    assert (verdict.correct, verdict.answer, verdict.explanation) == (False, "cat", "Cats purr.")


def test_the_slug_and_owner_stay_when_a_qualification_is_edited(alice: User, skill: Qualification) -> None:
    edited = qualification_update(user=alice, qualification=skill, name="Acme songbirds", description="Small ones.",
                                  exam_labels=["cat", "dog"], pass_mark="0.9", retry_cooldown_seconds=60)
    assert (edited.slug, edited.owner_id) == (skill.slug, alice.organization_id)
    assert (edited.name, len(edited.exam_labels), edited.retry_cooldown_seconds) == ("Acme songbirds", 2, 60)


def test_exam_files_read_flat_and_nested_jsonl_and_csv_with_a_bom() -> None:
    jsonl = b'{"text": "a", "answer": "cat"}\n\n{"data": {"text": "b", "n": 2}, "label": "dog", "explanation": "why"}\n'
    assert exam_file_parse(payload=jsonl, fmt="jsonl") == [
        {"data": {"text": "a"}, "answer": "cat", "explanation": ""},
        {"data": {"text": "b", "n": 2}, "answer": "dog", "explanation": "why"}]
    csv = "\ufefftext,answer\nMeows,cat\n".encode()
    assert exam_file_parse(payload=csv, fmt="csv") == [{"data": {"text": "Meows"}, "answer": "cat", "explanation": ""}]


@pytest.mark.parametrize("payload, fmt, reason", [
    (b"", "csv", "empty"),
    (b"text,text\na,b\n", "csv", "a name of its own"),
    (b"text\nMeows\n", "csv", "line 2: no answer"),
    (b"answer\ncat\n", "csv", "no item data"),
    (b"[1, 2]\n", "jsonl", "line 1: each line must be a JSON object"),
    (b'{"text": NaN, "answer": "cat"}\n', "jsonl", "line 1"),
    (b'{"data": {"text": "a"}, "answer": "cat", "extra": 1}\n', "jsonl", "unknown keys"),
    (b"text,answer\nx\x00,cat\n", "csv", "NUL"),
    (b"text,answer\n", "csv", "no questions"),
])
def test_a_bad_exam_file_is_one_clear_error(payload: bytes, fmt: str, reason: str) -> None:
    with pytest.raises(ApplicationError, match=reason):
        exam_file_parse(payload=payload, fmt=fmt)
