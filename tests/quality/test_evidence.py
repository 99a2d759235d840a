"""A quality event's gold figures are exact: an auditor reads the accuracies the rule compared as
decimal strings (with the counts), in the stored row, the admin API and the staff worker page;
events stored before that (floats) read the same way.

Wendy misses every gold item of Acme's job and is blocked; Ada is the admin who audits it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client

from marketplace.accounts.models import Organization, User
from marketplace.quality.evidence import evidence_read
from marketplace.quality.models import QualityEvent
from tests.quality.worker_helpers import answer_gold, gold_job

pytestmark = pytest.mark.django_db

RULES = {"min_gold_answers": 4, "gold_accuracy_floor": "0.5"}
EXACT = {"seen": 4, "correct": 0, "smoothed": "0.1667", "interval_90": ["0.0102", "0.4507"]}


def _blocked(acme: Organization, wendy: User) -> QualityEvent:
    job = gold_job(organization=acme, quality_rules=RULES)
    answer_gold(wendy, job, right=0, wrong=4)
    return QualityEvent.objects.get(worker=wendy, kind=QualityEvent.Kind.BLOCKED)


def test_a_blocks_evidence_stores_its_accuracies_as_decimal_strings_in_the_database(
    acme: Organization, wendy: User
) -> None:
    event = _blocked(acme, wendy)
    with connection.cursor() as cursor:  # the stored JSON itself, not what Python makes of it
        cursor.execute("SELECT evidence -> 'gold' ->> 'smoothed', jsonb_typeof(evidence -> 'gold' -> 'smoothed') "
                       "FROM quality_qualityevent WHERE id = %s", [event.pk])
        assert cursor.fetchone() == ("0.1667", "string")
    assert event.evidence["gold"] == EXACT


def test_an_event_stored_with_float_accuracies_reads_as_the_same_decimal_strings(
    client_for: Any, ada: User, acme: Organization, wendy: User
) -> None:
    event = _blocked(acme, wendy)
    old = {**event.evidence, "gold": {"seen": 4, "correct": 0, "smoothed": 0.1667, "interval_90": [0.0102, 0.4507]}}
    QualityEvent.objects.filter(pk=event.pk).update(evidence=old)  # as an earlier release wrote it

    body = client_for(ada).get(f"/api/v1/quality/workers/{wendy.pk}/").json()
    page = Client()
    page.force_login(ada)
    html = page.get(f"/staff/workers/{wendy.pk}/").content.decode()

    [blocked] = [e for e in body["events"] if e["kind"] == "blocked"]
    assert blocked["evidence"]["gold"] == EXACT
    assert "&quot;smoothed&quot;: &quot;0.1667&quot;" in html


def test_reading_leaves_everything_but_gold_accuracies_as_it_was() -> None:
    evidence = {"rule": "fast_seconds", "median_seconds": 1.25, "exact_sets": {"seen": 2, "correct": 1,
                                                                                "smoothed": 0.5, "interval_90": [0.1, 0.9]}}

    assert evidence_read(evidence) == {"rule": "fast_seconds", "median_seconds": 1.25, "exact_sets": {
        "seen": 2, "correct": 1, "smoothed": "0.5000", "interval_90": ["0.1000", "0.9000"]}}
