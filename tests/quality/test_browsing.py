"""The data browser's reads (quality/browsing.py): filters, sort and cursor pages, an item's page."""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.errors import ApplicationError, NotFound
from marketplace.jobs.exporting import worker_pseudonym
from marketplace.jobs.models import Item, Job
from marketplace.quality import browsing
from marketplace.quality.browse_params import BrowseFilter, browse_filter_parse, cursor_parse
from marketplace.quality.item_details import item_detail
from marketplace.quality.models import ItemResult
from tests.quality.browse_helpers import browsed_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def job() -> Job:
    return browsed_job()


def shown(job: Job, **params: str) -> list[str]:
    """External ids of every item the filter shows, walking the cursor two rows at a time."""
    filters = browse_filter_parse(params, labels=job.label_keys)
    out: list[str] = []
    cursor = None
    while True:
        page = browsing.items_browse(job=job, filters=filters, cursor=cursor, page_size=2)
        out += [row.external_id or "" for row in page.rows]
        if page.next_cursor is None:
            return out
        cursor = cursor_parse({"cursor": page.next_cursor.encode()}, sort=filters.sort)


def test_the_run_writes_each_items_agreement_with_its_label(job: Job) -> None:
    agreement = dict(ItemResult.objects.values_list("item__external_id", "agreement"))
    assert agreement["i0"] == 1.0 and agreement["i5"] == 1.0
    assert agreement["i2"] == pytest.approx(2 / 3, abs=1e-6)
    assert agreement["i4"] == pytest.approx(1 / 3, abs=1e-6)


def test_every_item_shows_once_in_id_order_across_cursor_pages(job: Job) -> None:
    assert shown(job) == ["i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "g0"]
    assert shown(job, sort="-id") == ["g0", "i7", "i6", "i5", "i4", "i3", "i2", "i1", "i0"]


def test_sorting_by_confidence_walks_the_labelled_items_from_least_sure(job: Job) -> None:
    rows = list(browsing.items_browse_all(job=job, filters=BrowseFilter(sort="confidence"), batch=2))
    confidences = [row.confidence for row in rows]
    assert confidences == sorted(confidences) and len(rows) == 6
    expected = ItemResult.objects.order_by("confidence", "item_id").values_list("item__external_id", flat=True)
    assert [row.external_id for row in rows] == list(expected)
    descending = [row.confidence for row in browsing.items_browse_all(
        job=job, filters=BrowseFilter(sort="-confidence"), batch=2)]
    assert descending == sorted(confidences, reverse=True)


def test_filters_show_exactly_the_items_that_match(job: Job) -> None:
    labels = dict(ItemResult.objects.values_list("item__external_id", "label"))
    assert shown(job, label="bird") == sorted(ext for ext, label in labels.items() if label == "bird")
    assert shown(job, label="cat") == sorted(ext for ext, label in labels.items() if label == "cat")
    assert shown(job, agreement_below="0.7") == ["i2", "i3", "i4"]
    assert shown(job, judged="no") == ["i6", "i7", "g0"]
    assert shown(job, gold="yes") == ["g0"]
    assert shown(job, external_id="i1") == ["i1"]
    assert shown(job, q="ITEM 5") == ["i5"]
    confidence = dict(ItemResult.objects.values_list("item__external_id", "confidence"))
    assert shown(job, confidence_max="0.9") == sorted(ext for ext, c in confidence.items() if c <= 0.9)
    assert shown(job, confidence_min="0.9", label="cat") == sorted(
        ext for ext, c in confidence.items() if c >= 0.9 and labels[ext] == "cat"
    )


def test_a_confidence_range_is_inclusive_at_both_ends(job: Job) -> None:
    i2 = ItemResult.objects.get(item__external_id="i2").confidence
    value = f"{i2:.6f}"
    assert "i2" in shown(job, confidence_min=value, confidence_max=value)


def test_a_search_in_item_data_reads_a_bounded_window_and_goes_on_from_it(job: Job, monkeypatch: Any) -> None:
    monkeypatch.setattr(browsing, "SCAN_WINDOW", 3)
    first = browsing.items_browse(job=job, filters=BrowseFilter(text="item 4"), cursor=None, page_size=10)
    assert first.rows == [] and first.next_cursor is not None  # i0..i2 read, nothing there
    assert first.searched_to == Item.objects.get(job=job, external_id="i2").pk
    assert shown(job, q="item 4") == ["i4"]
    assert shown(job, judged="no") == ["i6", "i7", "g0"]
    assert shown(job, judged="no", sort="-id") == ["g0", "i7", "i6"]
    assert shown(job, judged="yes", label="cat") == shown(job, label="cat")


def test_filters_on_consensus_show_nothing_before_the_first_run() -> None:
    from tests.factories import open_job_with_items

    fresh = open_job_with_items(items=3)
    page = browsing.items_browse(job=fresh, filters=BrowseFilter(label="cat"), cursor=None, page_size=5)
    assert page.rows == [] and page.run is None
    assert len(browsing.items_browse(job=fresh, filters=BrowseFilter(), cursor=None, page_size=5).rows) == 3


@pytest.mark.parametrize("params", [
    {"label": "horse"}, {"confidence_min": "NaN"}, {"confidence_max": "1.5"}, {"confidence_min": "-0.1"},
    {"confidence_min": "0.9", "confidence_max": "0.1"}, {"agreement_below": "inf"}, {"gold": "maybe"},
    {"expert": "all"}, {"sort": "data"}, {"q": "x" * 101}, {"q": "cat", "sort": "confidence"},
    {"judged": "no", "sort": "-confidence"},
    {"external_id": "a\x00b"},
])
def test_bad_filters_are_refused_naming_the_parameter(job: Job, params: dict[str, str]) -> None:
    with pytest.raises(ApplicationError) as refused:
        browse_filter_parse(params, labels=job.label_keys)
    assert refused.value.details["parameter"] in params


@pytest.mark.parametrize("cursor", ["", "%%%", "W10", "WyJpZCIsIm5vIixudWxsXQ", "WyJjb25maWRlbmNlIiwxLE5hTl0"])
def test_a_cursor_not_made_by_this_listing_is_refused(cursor: str) -> None:
    if not cursor:
        assert cursor_parse({"cursor": cursor}, sort="id") is None
        return
    with pytest.raises(ApplicationError):
        cursor_parse({"cursor": cursor}, sort="confidence")


def test_an_items_page_shows_every_judgment_under_pseudonyms_and_the_posterior(job: Job) -> None:
    item = Item.objects.get(job=job, external_id="i3")
    detail = item_detail(job=job, item_id=item.pk)
    assert detail.label == "dog"
    assert set(detail.probabilities) == {"cat", "dog", "bird"}
    assert sum(detail.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    workers = item.judgments.values_list("worker_id", flat=True)
    assert sorted(j.worker for j in detail.judgments) == sorted(
        worker_pseudonym(job_id=job.pk, worker_id=w) for w in workers
    )
    assert sorted(j.label for j in detail.judgments) == ["cat", "dog", "dog"]
    assert all(j.worker_consensus_accuracy is not None for j in detail.judgments)


def test_an_item_of_another_job_is_not_found(job: Job) -> None:
    from tests.factories import open_job_with_items

    other = open_job_with_items(items=1)
    with pytest.raises(NotFound):
        item_detail(job=job, item_id=other.items.get().pk)
