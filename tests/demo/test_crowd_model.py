"""The crowd simulator's model, pure: truth, mixes, confusion matrices, colluding pairs."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from marketplace.demo import seeding
from marketplace.jobs.services import ItemRow
from marketplace.demo.simulator.crowd import (
    Profile,
    crowd_build,
    item_key,
    item_truth,
    majority,
    mix_counts,
    mix_parse,
    think_seconds,
)
from marketplace.demo.simulator.report import Stats, percentile, report_build, report_text

KEYS = ["cat", "dog", "bird"]


def _accuracy(profile: Profile, n: int = 3000) -> float:
    rng = random.Random(1)
    right = 0
    for i in range(n):
        data = {"text": f"item {i}"}
        right += profile.answer(item=item_key(data), data=data, label_keys=KEYS, rng=rng) == item_truth(data, KEYS)
    return right / n


def test_the_truth_is_a_fixed_function_of_the_data_whatever_its_key_order() -> None:
    assert item_truth({"a": 1, "b": "x"}, KEYS) == item_truth({"b": "x", "a": 1}, KEYS)
    spread = Counter(item_truth({"text": f"item {i}"}, KEYS) for i in range(3000))
    assert set(spread) == set(KEYS) and min(spread.values()) > 900  # about a third each


def test_seeded_demo_items_read_as_their_truth_and_gold_carries_it() -> None:
    spec = seeding.JobSpec(state="open", items=30, gold=9, make=seeding.review,
                           fields={"title": "t", "labels": seeding.SENTIMENT})
    regular, gold = spec.rows(seed=3)
    for row in gold:
        assert row.gold_label == item_truth(row.data, spec.keys)
        assert row.data["text"].split(":")[0] in seeding._REVIEW[row.gold_label]
    for row in regular:  # wording and truth agree for plain items too
        assert row.data["text"].split(":")[0] in seeding._REVIEW[item_truth(row.data, spec.keys)]
    assert spec.rows(seed=3) == (regular, gold)  # deterministic


def test_a_seeded_gold_item_reads_like_any_other_even_its_number() -> None:
    spec = seeding.JobSpec(state="open", items=300, gold=30, make=seeding.review,
                           fields={"title": "t", "labels": seeding.SENTIMENT})
    regular, gold = spec.rows(seed=3)

    def number(row: ItemRow) -> int:
        found = re.search(r"#(\d+)", row.data["text"])
        assert found is not None
        return int(found.group(1))

    assert {frozenset(row.data) for row in regular + gold} == {frozenset(gold[0].data)}  # same fields
    assert sorted(map(number, regular + gold)) == list(range(1, 331))  # one range, no gaps
    gold_numbers = sorted(map(number, gold))
    assert gold_numbers[0] < 100 and gold_numbers[-1] > 230  # spread through it, not a block at its end


def test_a_mix_is_normalized_and_split_into_whole_workers_with_colluders_in_pairs() -> None:
    mix = mix_parse("good=6,noisy=2,spammer=1,constant=0.5,colluding=0.5")
    assert mix["good"] == pytest.approx(0.6)
    counts = mix_counts(mix, 200)
    assert sum(counts.values()) == 200 and counts["colluding"] % 2 == 0
    assert counts == {"good": 120, "noisy": 40, "spammer": 20, "constant": 10, "colluding": 10}
    with pytest.raises(ValueError):
        mix_parse("great=1")


def test_each_kind_answers_as_its_confusion_matrix_says() -> None:
    crowd = crowd_build(n=40, mix=mix_parse("good=1,noisy=1,spammer=1,constant=1"), seed=0)
    by_kind = {p.kind: p for p in crowd}
    for profile in crowd:
        for row in profile.matrix_for(3):
            assert sum(row) == pytest.approx(1.0)
    assert _accuracy(by_kind["good"]) == pytest.approx(0.9, abs=0.06)
    assert _accuracy(by_kind["noisy"]) == pytest.approx(0.65, abs=0.08)
    assert _accuracy(by_kind["spammer"]) == pytest.approx(1 / 3, abs=0.04)
    rng = random.Random(0)
    constant = {by_kind["constant"].answer(item=i, data={"n": i}, label_keys=KEYS, rng=rng)
                for i in range(200)}
    assert len(constant) == 1


def test_the_two_workers_of_a_colluding_pair_give_the_same_label_for_the_same_item() -> None:
    crowd = crowd_build(n=6, mix=mix_parse("colluding=4,good=2"), seed=5)
    colluders = [p for p in crowd if p.kind == "colluding"]
    assert len(colluders) == 4 and {p.pair for p in colluders} == {1, 2}
    first, second = [p for p in colluders if p.pair == 1]
    other = next(p for p in colluders if p.pair == 2)
    same_as_partner = same_as_other = 0
    for i in range(300):
        data = {"text": f"item {i}"}
        a = first.answer(item=item_key(data), data=data, label_keys=KEYS, rng=random.Random(i))
        b = second.answer(item=item_key(data), data=data, label_keys=KEYS, rng=random.Random(i + 999))
        c = other.answer(item=item_key(data), data=data, label_keys=KEYS, rng=random.Random(i))
        same_as_partner += a == b
        same_as_other += a == c
    assert same_as_partner == 300
    assert same_as_other < 200  # another pair is independent


def test_think_time_is_lognormal_around_the_mean_and_zero_for_load() -> None:
    rng = random.Random(2)
    times = [think_seconds(mean_ms=1500, rng=rng) for _ in range(5000)]
    assert sum(times) / len(times) == pytest.approx(1.5, rel=0.05)
    assert think_seconds(mean_ms=0, rng=rng) == 0.0


def test_majority_breaks_ties_towards_the_label_listed_first() -> None:
    assert majority(["dog", "cat"], KEYS) == "cat"
    assert majority(["bird", "bird", "cat"], KEYS) == "bird"


def test_the_report_counts_throughput_latency_accuracy_and_cost() -> None:
    from decimal import Decimal

    crowd = crowd_build(n=2, mix={"good": 1.0}, seed=0)
    stats = Stats(profiles=crowd)
    stats.label_keys[7] = KEYS
    stats.rewards[7] = Decimal("0.015")
    for i in range(3):  # three judgments by worker 0: 3 × 0.015 = 0.045 -> 0.04 (half to even)
        data = {"text": f"item {i}"}
        stats.record(job=7, item=item_key(data), worker=0, label=item_truth(data, KEYS), data=data)
    stats.latencies["next"] = [0.01, 0.02, 0.03, 0.04]
    stats.errors["409 conflict"] += 1
    stats.finished = stats.started + 2.0
    report = report_build(stats)
    assert report["accepted_judgments"] == 3 and report["judgments_per_second"] == 1.5
    assert report["latency_ms"]["next"]["p50"] == 20.0 and report["latency_ms"]["next"]["p99"] == 40.0
    assert report["simulator_accuracy"]["jobs"]["7"]["majority_vote_accuracy"] == 1.0
    assert report["cost"]["worker_pay"] == "0.04"
    assert report["errors"] == {"409 conflict": 1}
    assert "409 conflict ×1" in report_text(report)
    assert percentile([], 50) == 0.0


def test_the_report_gives_the_latencies_after_the_warm_up_apart() -> None:
    """A thinking crowd's arrival is slow (first requests per worker and connection): with a
    warm-up the report also gives the requests asked after it, the whole run's figures unchanged."""
    stats = Stats(profiles=crowd_build(n=1, mix={"good": 1.0}, seed=0))
    stats.latencies["submit"] = [0.9, 0.8, 0.01, 0.02, 0.03]
    stats.asked_at["submit"] = [1.0, 4.0, 10.0, 11.0, 12.0]
    stats.finished = stats.started + 13.0
    report = report_build(stats, warmup=10.0)
    assert report["latency_ms"]["submit"]["count"] == 5 and report["latency_ms"]["submit"]["p99"] == 900.0
    assert report["latency_ms_after_warmup"]["submit"]["count"] == 3
    assert report["latency_ms_after_warmup"]["submit"]["p99"] == 30.0
    assert "submit >10s" in report_text(report)
    assert "latency_ms_after_warmup" not in report_build(stats)
