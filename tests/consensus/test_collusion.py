"""Collusion scans, pure: seeded simulated crowds (the demo simulator's own workers, colluding
pairs included) answer a job; the agreement scan flags the colluding pairs and leaves honest
workers alone; the timing scan flags a pair submitting in lockstep, not workers who merely
worked on the same items at the same time."""

from __future__ import annotations

import random

import numpy as np
import pytest

from marketplace.consensus import Votes, aggregate
from marketplace.consensus.collusion import (
    agreement_scan,
    collusion_groups,
    paired_workers,
    shared_entries,
    tail_bound,
    timing_scan,
)
from marketplace.demo.simulator.crowd import Profile, crowd_build, item_truth, mix_parse

SEEDS = range(5)
MIX = mix_parse("good=0.6,noisy=0.2,spammer=0.1,constant=0.05,colluding=0.05")
LABELS = ("positive", "negative", "neutral")


def simulated_job(seed: int, *, workers: int = 40, items: int = 1500, overlap: int = 7,
                  labels: tuple[str, ...] = LABELS) -> tuple[list[Profile], Votes, dict[int, str]]:
    """Each item judged by `overlap` workers drawn at random; every tenth item is gold."""
    crowd = crowd_build(n=workers, mix=MIX, seed=seed)
    rng = random.Random(seed)
    item_ids, worker_ids, answers, gold = [], [], [], {}
    for item in range(items):
        data = {"text": f"review {seed}-{item}"}
        if item % 10 == 0:
            gold[item] = item_truth(data, labels)
        for profile in rng.sample(crowd, overlap):
            item_ids.append(item)
            worker_ids.append(profile.index)
            answers.append(profile.answer(item=item, data=data, label_keys=labels, rng=rng))
    votes = Votes.from_labels(np.array(item_ids), np.array(worker_ids), answers, label_set=labels)
    return crowd, votes, gold


def colluding_pairs(crowd: list[Profile]) -> set[tuple[int, int]]:
    by_pair: dict[int, list[int]] = {}
    for profile in crowd:
        if profile.pair is not None:
            by_pair.setdefault(profile.pair, []).append(profile.index)
    return {(min(pair), max(pair)) for pair in by_pair.values()}


@pytest.mark.parametrize("labels", [LABELS, ("yes", "no")], ids=["three labels", "two labels"])
def test_colluding_pairs_are_flagged_and_honest_workers_are_not_over_five_seeds(
    labels: tuple[str, ...],
) -> None:
    caught = missed = false_pairs = 0
    honest_good_flagged = 0
    for seed in SEEDS:
        crowd, votes, gold = simulated_job(seed, labels=labels)
        result = aggregate(votes, gold=gold, labels=labels)
        scan = agreement_scan(votes, result, gold_items=gold)
        flagged = {(p.worker_a, p.worker_b) for p in scan.flagged}
        truth = colluding_pairs(crowd)
        kinds = {p.index: p.kind for p in crowd}
        false = flagged - truth
        print(f"seed {seed} ({len(labels)} labels): {len(truth & flagged)}/{len(truth)} colluding pairs "
              f"flagged, {len(false)} false pairs, {scan.pairs_tested} pairs tested; "
              + "; ".join(f"{p.worker_a}-{p.worker_b} agreed {p.observed}/{p.shared}, expected "
                          f"{p.expected:.1f}, p<={p.adjusted:.1e}" for p in scan.flagged))
        caught += len(truth & flagged)
        missed += len(truth - flagged)
        false_pairs += len(false)
        honest_good_flagged += sum(kinds[a] == "good" and kinds[b] == "good" for a, b in false)
    print(f"over {len(SEEDS)} seeds: {caught} colluding pairs flagged, {missed} missed, "
          f"{false_pairs} false pairs")
    assert caught == len(SEEDS) and missed == 0
    assert false_pairs <= 1
    assert honest_good_flagged == 0


def test_a_flagged_pair_carries_its_evidence() -> None:
    crowd, votes, gold = simulated_job(0)
    scan = agreement_scan(votes, aggregate(votes, gold=gold, labels=LABELS), gold_items=gold)
    (pair,) = [p for p in scan.flagged if (p.worker_a, p.worker_b) in colluding_pairs(crowd)]
    # Colluders answer at random from one shared stream: they always agree, chance says a third.
    assert pair.observed == pair.shared >= 20
    assert 0.2 < pair.expected_rate < 0.5
    assert pair.adjusted <= 0.01 and pair.p_value <= pair.adjusted


def test_gold_items_do_not_count_as_shared_items() -> None:
    crowd, votes, gold = simulated_job(1, items=300)
    result = aggregate(votes, gold=gold, labels=LABELS)
    everything_gold = {int(i): "positive" for i in np.unique(votes.items)}
    assert agreement_scan(votes, result, gold_items=everything_gold).pairs_tested == 0


def test_the_tail_bound_is_one_at_or_below_the_mean_and_tiny_far_above_it() -> None:
    bounds = tail_bound([30, 30, 30, 0], [10, 15, 30, 0], [0.5, 0.5, 0.5, 0.5])
    assert bounds[0] == 1.0 and bounds[3] == 1.0
    assert bounds[1] == 1.0  # exactly the mean
    assert bounds[2] == pytest.approx(0.5**30)


def test_shared_entries_lists_each_pair_of_workers_on_an_item_once() -> None:
    items = np.array([1, 1, 1, 2, 2, 3])
    workers = np.array([5, 3, 4, 3, 5, 4])
    u, v = shared_entries(items, workers)
    pairs = sorted((int(items[a]), int(workers[a]), int(workers[b])) for a, b in zip(u, v, strict=True))
    assert pairs == [(1, 3, 4), (1, 3, 5), (1, 4, 5), (2, 3, 5)]


def lockstep_day(seed: int, *, workers: int = 30, items: int = 1200, overlap: int = 5):  # type: ignore[no-untyped-def]
    """Items served one after another; every worker holding an item claims it within a second
    of the others (they are served together) and thinks a lognormal time of their own. Workers
    0 and 1 are one person with two accounts: 1 submits 0.3 s after 0 on every item they share."""
    rng = random.Random(seed)
    rows = []
    for item in range(items):
        start = item * 2.0
        chosen = rng.sample(range(workers), overlap)
        if 0 in chosen and 1 not in chosen and rng.random() < 0.8:
            chosen[chosen.index(0) - 1 if chosen.index(0) else 1] = 1  # the second account follows
        submitted_by_0 = None
        for worker in sorted(chosen):
            claimed = start + rng.uniform(0.0, 1.0)
            submitted = claimed + rng.lognormvariate(1.2, 0.5)
            if worker == 0:
                submitted_by_0 = submitted
            if worker == 1 and submitted_by_0 is not None:
                submitted = max(claimed + 0.5, submitted_by_0 + 0.3)
            rows.append((item, worker, claimed, submitted))
    return (np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
            np.array([r[2] for r in rows]), np.array([r[3] for r in rows]))


def test_a_pair_submitting_in_lockstep_is_flagged_and_workers_served_together_are_not() -> None:
    false_pairs = 0
    for seed in SEEDS:
        items, workers, claimed, submitted = lockstep_day(seed)
        scan = timing_scan(items, workers, claimed, submitted)
        flagged = {(p.worker_a, p.worker_b) for p in scan.flagged}
        false_pairs += len(flagged - {(0, 1)})
        print(f"timing seed {seed}: lockstep pair flagged {(0, 1) in flagged}, "
              f"{len(flagged - {(0, 1)})} false pairs of {scan.pairs_tested} tested")
        assert (0, 1) in flagged
    assert false_pairs <= 1


def test_rows_without_a_claim_time_are_left_out_of_the_timing_scan() -> None:
    items, workers, claimed, submitted = lockstep_day(0, items=200)
    claimed[:] = np.nan
    assert timing_scan(items, workers, claimed, submitted).pairs_tested == 0


def test_groups_are_the_connected_components_of_flagged_pairs() -> None:
    groups = collusion_groups([(1, 2), (3, 4), (2, 5), (7, 8), (8, 3)])
    assert groups == [[3, 4, 7, 8], [1, 2, 5]]
    assert collusion_groups([]) == []


def test_any_tested_pair_can_be_looked_up_with_its_figures_in_either_order() -> None:
    crowd, votes, gold = simulated_job(2)
    scan = agreement_scan(votes, aggregate(votes, gold=gold, labels=LABELS), gold_items=gold)
    flagged = scan.flagged[0]
    assert scan.pair(flagged.worker_b, flagged.worker_a) == flagged
    honest = scan.pair(*sorted(p.index for p in crowd if p.kind == "good")[:2])
    assert honest is not None and honest.adjusted > 0.01 and honest.shared >= 20
    assert scan.pair(flagged.worker_a, 10_000) is None


def test_paired_workers_are_those_sharing_enough_items_with_someone() -> None:
    # Workers 7 and 8 share items 0-19; 9 shares 19 items with 7; 10 judged alone.
    items = np.r_[np.arange(20), np.arange(20), np.arange(19), np.arange(100, 140)]
    workers = np.r_[np.full(20, 7), np.full(20, 8), np.full(19, 9), np.full(40, 10)]
    assert paired_workers(items, workers, min_shared=20).tolist() == [7, 8]
    assert paired_workers(items, workers, min_shared=19).tolist() == [7, 8, 9]
    assert paired_workers(items[:0], workers[:0]).tolist() == []
