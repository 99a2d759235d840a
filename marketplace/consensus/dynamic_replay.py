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

History (optional): workers' skill from earlier work, fitted first like an earlier job's
completion run (`history_skill`; with `history_gold`, some of that work's items were gold).

A model (optional): one prediction per item (`simulated_model`, seeded apart from the arrival
order), the vote of one more worker, joining an item with its first judgment, never a human one.
At each refit its confusion is fitted against the people's posteriors (`model_worker.model_fit`);
until then it counts as chance. Measured at least as accurate as the typical worker, it counts
towards the minimum overlap (`overlap_decision`'s `model_votes`); the final labels are the
people's run combined with its votes (`model_worker.combine`).

The oracle and filling in (optional, `dynamic_oracle`): workers' true confusions stop items or
serve workers; items the data ran out of take judgments from the average served worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

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
    serving_floor,
    worker_served,
)
from marketplace.consensus.dynamic_crowd import Crowdset, history_skill, simulated_model
from marketplace.consensus.dynamic_tally import (
    StreamRun,
    accuracy_of,
    fit_model,
    fixed_curve,
    scored_accuracy,
)
from marketplace.consensus.dynamic_oracle import (
    ORACLE_PARTS,
    Oracle,
    fill_label,
    oracle_of,
    true_confusion,
)
from marketplace.consensus.model_worker import chance_fit, trusted
from marketplace.consensus.posterior import item_posterior
from marketplace.consensus.types import FloatArray, IntArray


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
    # The oracle (`dynamic_oracle`: every worker's true confusion) stands in for the stopping
    # posterior ("stop"), the serving rule ("serve") or both ("both"); "": the product's rule.
    oracle: str = ""
    # Items the data set runs out of before they settle take judgments from the average served
    # worker (`fill_label`), as they would wait for new workers in the product.
    fill: bool = False
    history_gold: float = 0.0  # share of the history's items with a truth that were gold

    def __post_init__(self) -> None:
        if self.oracle not in ("", *ORACLE_PARTS):
            raise ValueError(f"the oracle stands in for one of {', '.join(ORACLE_PARTS)}")
        if not 1 <= self.min_overlap <= self.max_overlap:
            raise ValueError("need 1 <= minimum overlap <= maximum overlap")
        if not 0.0 < self.target <= 1.0:
            raise ValueError("the target must be above 0 and at most 1")


#: The key of fixed overlap as sold, its items filled: no serving rule, no oracle.
SOLD = (None, "", True, 0.0)


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
    return _replays(crowd, [settings], seed=seed, replayed=replayed, history=history, model=model)[
        0
    ]


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
    order = np.random.default_rng(seed).permutation(len(crowd.items))
    order = order[items_in[crowd.items[order]]]
    starts = {
        g: history_skill(crowd, history, gold=g, seed=seed) for g in {s.history_gold for s in sweep}
    }
    scored = items_in & (crowd.truth >= 0)
    n_items = int(items_in.sum())
    oracle = oracle_of(crowd) if any(s.oracle for s in sweep) else None
    fixed = fixed_curve(crowd, order, scored, n_items)  # the same for every target
    curves: dict[tuple[float | None, str, bool, float], list[tuple[float, float]]] = {}
    outcomes = []
    for settings in sweep:
        margin = settings.serve_margin
        # Fixed overlap serving the same workers, and as sold with items filled when it fills.
        start, gold = starts[settings.history_gold], settings.history_gold
        same = (margin, settings.oracle, settings.fill, gold)  # fixed overlap serving the same
        keys = ([same] if margin is not None else []) + ([SOLD] if settings.fill else [])
        for key in keys:
            if key not in curves:
                like = replace(settings, serve_margin=key[0], oracle=key[1])
                depth = settings.max_overlap if key[2] else min(len(fixed), settings.max_overlap)
                curves[key] = _fixed_like(crowd, like, order, start, scored, items_in, depth, seed)
        run = _stream(crowd, settings, order, dict(start), items_in, model, oracle, seed)
        votes, picked = run.crowd(crowd)
        accuracy, model_accuracy = scored_accuracy(votes, picked, scored, model)
        outcomes.append(
            Outcome(
                items=n_items,
                judgments=len(picked),
                accuracy=accuracy,
                at_maximum=run.at_max,
                ran_out=run.ran_out,
                refits=run.refits,
                model_accuracy=model_accuracy,
                fixed=curves[SOLD] if settings.fill else fixed,
                fixed_served=[] if margin is None else curves[keys[0]],
                filled=len(run.extra),
                unjudged=int(n_items - len(np.unique(crowd.items[run.taken]))),
            )
        )
    return outcomes


def _fixed_like(
    crowd: Crowdset,
    settings: DynamicSettings,
    order: IntArray,
    start: dict[int, Evidence],
    scored: np.ndarray,
    items_in: np.ndarray,
    depth: int,
    seed: int,
) -> list[tuple[float, float]]:
    """Fixed overlap K = 1..depth serving the same workers as a job with `settings` (the same
    serving rule, refits, skill or oracle; each item takes the first K judgments of served
    workers), its items filled when the job's are."""
    oracle = oracle_of(crowd) if settings.oracle else None
    n_items = int(items_in.sum())
    curve = []
    for k in range(1, depth + 1):
        fixed_k = replace(settings, min_overlap=k, max_overlap=k, target=1.0)
        run = _stream(crowd, fixed_k, order, dict(start), items_in, None, oracle, seed)
        votes, picked = run.crowd(crowd)
        curve.append((len(picked) / n_items, accuracy_of(votes, picked, scored)))
    return curve


def _stream(
    crowd: Crowdset,
    settings: DynamicSettings,
    order: IntArray,
    skill: dict[int, Evidence],
    items_in: np.ndarray,
    model: IntArray | None = None,
    oracle: Oracle | None = None,
    seed: int = 0,
) -> StreamRun:
    """Feed the arrivals in `order`, then fill the items left unsettled when `settings.fill`. A
    `model`'s prediction joins an item's votes with its first judgment, as worker `n_workers`."""
    k = len(crowd.labels)
    machine_worker = crowd.n_workers
    stops = oracle is not None and oracle.stops(settings.oracle)
    serves = oracle is not None and oracle.serves(settings.oracle)
    live_serving = settings.serve_margin is not None and not serves
    # Fixed overlap's decisions ignore the posterior: it needs the job's model only to serve.
    fits = live_serving or not (stops or settings.min_overlap == settings.max_overlap)
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

    def matrix(worker: int) -> FloatArray:
        if stops:
            return oracle.confusions[worker]  # type: ignore[union-attr]
        return worker_confusion(
            n_labels=k,
            crowd=crowd_now,
            skill=skill.get(worker, Evidence()),
            job=contributed.get(worker, Evidence()),
            run_confusion=run.get(worker),
            run_judgments=run_counts.get(worker, 0),
            model=settings.model,
        )

    def decide(votes: list[tuple[int, int]], machines: int) -> Decision:
        for worker, _ in votes:
            if worker not in matrices:
                matrices[worker] = matrix(worker)
        return overlap_decision(
            posterior=item_posterior(matrices, oracle.priors if stops else priors, votes),  # type: ignore[union-attr]
            judgments=len(votes) - machines,
            min_overlap=settings.min_overlap,
            max_overlap=settings.max_overlap,
            target=settings.target,
            model_votes=machines if counts else 0,
        )

    for vote in order.tolist():
        item = int(crowd.items[vote])
        if settled[item]:
            continue
        worker = int(crowd.workers[vote])
        if serves:
            floor = serving_floor(k, margin=settings.serve_margin or 0.0)
            if oracle.accuracy[worker] < floor:  # type: ignore[union-attr]
                continue
        elif live_serving:
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
                    accuracy=accuracy, n_labels=k, margin=settings.serve_margin or 0.0
                )
            if not served[worker]:
                continue  # not served: the item waits for the next arrival
        votes = collected.get(item)
        if votes is None:
            votes = collected[item] = []
            if model is not None and model[item] >= 0:
                votes.append((machine_worker, int(model[item])))
        machines = int(bool(votes) and votes[0][0] == machine_worker)
        votes.append((worker, int(crowd.codes[vote])))
        taken.append(vote)
        if fits and refit_due(len(taken), first=settings.first_refit):
            picked = np.asarray(taken, dtype=np.int64)
            fit_votes = crowd.subset(picked)
            result = aggregate(fit_votes)
            share = run_evidence(result, fit_votes)
            for name, change in skill_changes(contributed, share).items():
                skill[name] = skill.get(name, Evidence()) + change  # type: ignore[index]
            contributed = share  # type: ignore[assignment]
            run = result.worker_confusions()
            run_counts = dict(
                zip(result.workers.tolist(), result.worker_judgments.tolist(), strict=True)
            )
            crowd_now = crowd_of(result, fallback=settings.model.crowd_accuracy)
            priors = result.priors
            matrices, served = {}, {}
            if model is not None:
                fitted = fit_model(crowd, model, result)
                matrices[machine_worker] = fitted.confusion
                counts = trusted(fitted, crowd_accuracy=crowd_now.accuracy)
            refits += 1
        if machine_worker not in matrices:
            matrices[machine_worker] = chance_fit(k).confusion  # unmeasured: weighs nothing
        decision = decide(votes, machines)
        if decision is not Decision.MORE:
            settled[item] = True
            at_max += decision is Decision.UNCERTAIN
    left = np.flatnonzero(items_in & ~settled)
    extra: list[tuple[int, int]] = []
    if settings.fill and len(left):
        # Each new worker is unknown to the job (the crowd's average; to the oracle, the served
        # crowd's pooled confusion) and errs like the average served worker.
        average = true_confusion(crowd, np.asarray(taken, dtype=np.int64))
        rng = np.random.default_rng([seed, 3])
        newcomer = -1  # no crowd worker has a negative code
        matrices[newcomer] = average if stops else matrix(newcomer)
        for item in left.tolist():
            votes = collected.setdefault(item, [])
            machines = int(bool(votes) and votes[0][0] == machine_worker)
            decision = Decision.MORE
            while decision is Decision.MORE and crowd.truth[item] >= 0:
                code = fill_label(average, int(crowd.truth[item]), rng)
                votes.append((newcomer, code))
                extra.append((item, code))
                decision = decide(votes, machines)
            at_max += decision is Decision.UNCERTAIN
    return StreamRun(taken, extra, at_max, refits, ran_out=len(left))


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
            runs = [_replays(crowd, sweep, seed=seed, history=unscored[crowd.items], model=model)]
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
