"""Replaying a real crowd through dynamic overlap, beside fixed overlap: PURE (no Django).

A crowd's judgments arrive in a seeded random order: one stream of (item, worker, label) over the
whole data set. An item takes each judgment that reaches it until `overlap_decision` (the rule the
submit flow uses) settles it or it reaches the maximum; later judgments of a settled item are
never collected. The job's model is refitted with the default `aggregate` on what was collected
so far at the product's schedule (`refit_due`: after 100 judgments, then at each doubling), and
each refit feeds the workers' global skill through the same bookkeeping as the product
(`run_evidence`, `skill_changes`). At the end the default `aggregate` labels what was collected,
as a job's completion run would, and is scored on the truth.

Fixed overlap K, for comparison, takes the first K judgments of every item in the same stream
order (all of them when an item has fewer), aggregated the same way. "At equal accuracy" is the
fixed overlap, interpolated between whole K, whose accuracy first reaches the dynamic one; the
saving is 1 - dynamic judgments / those fixed judgments.

History (optional): workers' skill from earlier work, fitted before the replay like an earlier
job's completion run (its `run_evidence` is their starting skill).

A model (optional): one prediction per item (`simulated_model`: right with a given accuracy, else
a uniformly wrong label, seeded apart from the arrival order), cast as the vote of one more
worker whose id follows the crowd's. Its vote joins an item with the item's first judgment and
is never a human judgment. At each refit its confusion is fitted against the people's posteriors
on the items they reached (`model_worker.model_fit`, as a job's runs do); until the first, it
counts as chance. Once measured at least as accurate as the typical worker it counts towards the
minimum overlap (`overlap_decision`'s `model_votes`), so it and one agreeing person can settle an
item; a bad model is down-weighted and never stands in for a person. The final labels are the
people's run combined with the model's votes (`model_worker.combine`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from marketplace.consensus.aggregate import aggregate
from marketplace.consensus.dynamic_compare import Comparison, Outcome, compare
from marketplace.consensus.dynamic import (
    DEFAULT_MODEL,
    FIRST_REFIT,
    Crowd,
    Decision,
    Evidence,
    WorkerModel,
    crowd_of,
    overlap_decision,
    refit_due,
    run_evidence,
    skill_changes,
    worker_accuracy,
    worker_confusion,
    worker_served,
)
from marketplace.consensus.dynamic_crowd import Crowdset, simulated_model
from marketplace.consensus.model_worker import ModelFit, chance_fit, combine, model_fit, trusted
from marketplace.consensus.posterior import item_posterior
from marketplace.consensus.types import ConsensusResult, FloatArray, IntArray


@dataclass(frozen=True)
class DynamicSettings:
    min_overlap: int
    max_overlap: int
    target: float
    first_refit: int = FIRST_REFIT
    model: WorkerModel = DEFAULT_MODEL
    # Serve only workers whose expected accuracy is at least this margin of the way from chance
    # to 1 (`worker_served`); an arrival of another worker is passed over. None: serve everyone.
    serve_margin: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.min_overlap <= self.max_overlap:
            raise ValueError("need 1 <= minimum overlap <= maximum overlap")
        if not 0.0 < self.target <= 1.0:
            raise ValueError("the target must be above 0 and at most 1")


def replay(
    crowd: Crowdset,
    settings: DynamicSettings,
    *,
    seed: int,
    replayed: np.ndarray | None = None,
    history: np.ndarray | None = None,
    model: IntArray | None = None,
) -> Outcome:
    """One seeded replay of the items flagged in `replayed` (default: all with a known truth),
    their workers starting from the skill `history` (a vote mask, fitted first) earned them;
    `model` is a prediction per item (-1: none), the vote of one more worker."""
    return _replays(
        crowd, [settings], seed=seed, replayed=replayed, history=history, model=model
    )[0]


def _replays(
    crowd: Crowdset,
    sweep: Sequence[DynamicSettings],
    *,
    seed: int,
    replayed: np.ndarray | None = None,
    history: np.ndarray | None = None,
    model: IntArray | None = None,
) -> list[Outcome]:
    """`replay` once per settings, in one arrival order, the history and fixed curve shared."""
    items_in = crowd.truth >= 0 if replayed is None else replayed
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(crowd.items))
    order = order[items_in[crowd.items[order]]]
    start: dict[int, Evidence] = {}
    if history is not None and history.any():
        votes = crowd.subset(history)
        start.update(run_evidence(aggregate(votes), votes))  # type: ignore[arg-type]
    scored = items_in & (crowd.truth >= 0)
    n_items = int(items_in.sum())
    fixed = _fixed_curve(crowd, order, scored, n_items)  # the same for every target
    served: dict[float, list[tuple[float, float]]] = {}  # serve margin -> its fixed curve
    outcomes = []
    for settings in sweep:
        margin = settings.serve_margin
        if margin is not None and margin not in served:
            depth = min(len(fixed), settings.max_overlap)
            served[margin] = _fixed_served(crowd, order, start, scored, n_items, margin, depth)
        taken, at_max, refits, settled = _stream(crowd, settings, order, dict(start), model)
        picked = np.asarray(taken, dtype=np.int64)
        accuracy, model_accuracy = _scored(crowd, picked, scored, model)
        outcomes.append(
            Outcome(
                items=n_items,
                judgments=len(taken),
                accuracy=accuracy,
                at_maximum=at_max,
                ran_out=int((items_in & ~settled).sum()),
                refits=refits,
                model_accuracy=model_accuracy,
                fixed=fixed,
                fixed_served=served.get(margin, []) if margin is not None else [],
            )
        )
    return outcomes


def _fixed_served(
    crowd: Crowdset,
    order: IntArray,
    start: dict[int, Evidence],
    scored: np.ndarray,
    n_items: int,
    margin: float,
    depth: int,
) -> list[tuple[float, float]]:
    """Fixed overlap K = 1..depth serving the same workers as a job with `margin`: each item
    takes the first K judgments of served workers (the same filter, refits and skill)."""
    curve = []
    for k in range(1, depth + 1):
        fixed_k = DynamicSettings(min_overlap=k, max_overlap=k, target=1.0, serve_margin=margin)
        taken = _stream(crowd, fixed_k, order, dict(start))[0]
        curve.append((len(taken) / n_items, _accuracy(crowd, np.asarray(taken), scored)))
    return curve


def _fit_model(crowd: Crowdset, model: IntArray, result: ConsensusResult) -> ModelFit:
    """The model's confusion against the people's run `result`, on the items it covers."""
    items = result.items.astype(np.int64)
    answers = model[items]
    has = answers >= 0
    return model_fit(result.probabilities[has], answers[has], result.priors)


def _stream(
    crowd: Crowdset,
    settings: DynamicSettings,
    order: IntArray,
    skill: dict[int, Evidence],
    model: IntArray | None = None,
) -> tuple[list[int], int, int, np.ndarray]:
    """Feed the arrivals in `order`; returns the votes taken, items at maximum, refits, settled.

    With a `model`, its prediction joins each item's votes with the first judgment, as worker
    `crowd.n_workers` (no crowd worker has that code)."""
    k = len(crowd.labels)
    machine_worker = crowd.n_workers
    counts = False  # whether the model's vote counts towards the minimum (once measured)
    settled = np.zeros(len(crowd.truth), dtype=bool)
    collected: dict[int, list[tuple[int, int]]] = {}
    taken: list[int] = []
    run: dict[int, FloatArray] = {}
    run_counts: dict[int, int] = {}
    contributed: dict[int, Evidence] = {}  # this job's latest run's share of each skill
    crowd_now = Crowd(accuracy=settings.model.crowd_accuracy)
    priors: FloatArray = np.full(k, 1.0 / k)
    matrices: dict[int, FloatArray] = {}  # cache until the next refit
    served: dict[int, bool] = {}  # worker -> served by the job, until the next refit
    at_max = refits = 0
    for vote in order.tolist():
        item = int(crowd.items[vote])
        if settled[item]:
            continue
        worker = int(crowd.workers[vote])
        if settings.serve_margin is not None:
            if worker not in served:
                accuracy = worker_accuracy(
                    crowd=crowd_now,
                    priors=priors,
                    skill=skill.get(worker, Evidence()),
                    job=contributed.get(worker, Evidence()),
                    run_confusion=run.get(worker),
                    run_judgments=run_counts.get(worker, 0),
                    model=settings.model,
                )
                served[worker] = worker_served(
                    accuracy=accuracy, n_labels=k, margin=settings.serve_margin
                )
            if not served[worker]:
                continue  # not served: the item waits for the next arrival
        votes = collected.get(item)
        if votes is None:
            votes = collected[item] = []
            if model is not None and model[item] >= 0:
                votes.append((machine_worker, int(model[item])))
        machines = int(bool(votes) and votes[0][0] == machine_worker)
        votes.append((int(crowd.workers[vote]), int(crowd.codes[vote])))
        taken.append(vote)
        if refit_due(len(taken), first=settings.first_refit):
            picked = np.asarray(taken, dtype=np.int64)
            fit_votes = crowd.subset(picked)
            result = aggregate(fit_votes)
            share = run_evidence(result, fit_votes)
            for worker, change in skill_changes(contributed, share).items():
                skill[worker] = skill.get(worker, Evidence()) + change  # type: ignore[index]
            contributed = share  # type: ignore[assignment]
            run = result.worker_confusions()
            run_counts = dict(
                zip(result.workers.tolist(), result.worker_judgments.tolist(), strict=True)
            )
            crowd_now = crowd_of(result, fallback=settings.model.crowd_accuracy)
            priors = result.priors
            matrices, served = {}, {}
            if model is not None:
                fitted = _fit_model(crowd, model, result)
                matrices[machine_worker] = fitted.confusion
                counts = trusted(fitted, crowd_accuracy=crowd_now.accuracy)
            refits += 1
        if machine_worker not in matrices:
            matrices[machine_worker] = chance_fit(k).confusion  # unmeasured: weighs nothing
        for worker, _ in votes:
            if worker not in matrices:
                matrices[worker] = worker_confusion(
                    n_labels=k,
                    crowd=crowd_now,
                    skill=skill.get(worker, Evidence()),
                    job=contributed.get(worker, Evidence()),
                    run_confusion=run.get(worker),
                    run_judgments=run_counts.get(worker, 0),
                    model=settings.model,
                )
        decision = overlap_decision(
            posterior=item_posterior(matrices, priors, votes),
            judgments=len(votes) - machines,
            min_overlap=settings.min_overlap,
            max_overlap=settings.max_overlap,
            target=settings.target,
            model_votes=machines if counts else 0,
        )
        if decision is not Decision.MORE:
            settled[item] = True
            at_max += decision is Decision.UNCERTAIN
    return taken, at_max, refits, settled


def _accuracy(crowd: Crowdset, picked: IntArray, scored: np.ndarray) -> float:
    """Share of scored items whose default-consensus label over `picked` votes is the truth."""
    return _scored(crowd, picked, scored, None)[0]


def _scored(
    crowd: Crowdset, picked: IntArray, scored: np.ndarray, model: IntArray | None
) -> tuple[float, float | None]:
    """`_accuracy` of the people's run over `picked` votes, combined with the model's votes when
    there is a model, and the model's accuracy as that run measured it."""
    if not len(picked):
        return float("nan"), None
    result = aggregate(crowd.subset(picked))
    labels, model_accuracy = result.label_index, None
    if model is not None:
        fitted = _fit_model(crowd, model, result)
        answers = model[result.items.astype(np.int64)]
        labels = combine(result.probabilities, answers, fitted.confusion).argmax(axis=1)
        model_accuracy = fitted.accuracy
    judged = scored[result.items]
    truth = crowd.truth[result.items[judged]]
    accuracy = float(np.mean(labels[judged] == truth)) if judged.any() else np.nan
    return float(accuracy), model_accuracy


def _fixed_curve(
    crowd: Crowdset, order: IntArray, scored: np.ndarray, n_items: int
) -> list[tuple[float, float]]:
    """(judgments per item, accuracy) of fixed overlap K = 1, 2, ... in the stream's order."""
    rank = np.empty(len(order), dtype=np.int64)
    stream_items = crowd.items[order]
    sort = np.argsort(stream_items, kind="stable")  # within an item, stream order is kept
    counts = np.bincount(stream_items, minlength=len(crowd.truth))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank[sort] = np.arange(len(order)) - starts[stream_items[sort]]
    curve = []
    for k in range(1, int(counts.max(initial=0)) + 1):
        picked = order[rank < k]
        curve.append((len(picked) / n_items, _accuracy(crowd, picked, scored)))
    return curve


def replay_many(
    crowd: Crowdset,
    settings: DynamicSettings,
    *,
    seeds: Sequence[int],
    history: bool = False,
    model_accuracy: float | None = None,
) -> Comparison:
    """Replays with the given seeds, compared with fixed overlap (`replay_sweep` of one)."""
    return replay_sweep(
        crowd, [settings], seeds=seeds, history=history, model_accuracy=model_accuracy
    )[0]


def replay_sweep(
    crowd: Crowdset,
    sweep: Sequence[DynamicSettings],
    *,
    seeds: Sequence[int],
    history: bool = False,
    model_accuracy: float | None = None,
) -> list[Comparison]:
    """Replays with the given seeds for each settings (e.g. several targets), each compared with
    fixed overlap in the same arrival orders.

    `history`: workers start from the skill their other work earned. The data set's items
    without truth are that other work when it has any (S_Rel); when every item has a truth
    (D_Duck), the items are split in two seeded halves, each replayed with the other as history.
    `model_accuracy`: a simulated model (`simulated_model`, seeded by the replay's seed) votes too.
    """
    outcomes: list[list[Outcome]] = [[] for _ in sweep]
    unscored = crowd.truth < 0
    for seed in seeds:
        model = None
        if model_accuracy is not None:
            model = simulated_model(crowd, model_accuracy, seed=seed)
        if not history:
            runs = [_replays(crowd, sweep, seed=seed, model=model)]
        elif unscored.any():
            runs = [
                _replays(crowd, sweep, seed=seed, history=unscored[crowd.items], model=model)
            ]
        else:
            half = np.zeros(len(crowd.truth), dtype=bool)
            half[np.random.default_rng([seed, 1]).permutation(len(half))[: len(half) // 2]] = True
            runs = [
                _replays(
                    crowd,
                    sweep,
                    seed=seed,
                    replayed=part,
                    history=~part[crowd.items],
                    model=model,
                )
                for part in (half, ~half)
            ]
        for run in runs:
            for kept, outcome in zip(outcomes, run, strict=True):
                kept.append(outcome)
    return [compare(kept) for kept in outcomes]
