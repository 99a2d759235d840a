"""The default method ("quorum"): fit the model the job's own evidence supports, and say why.

No single model wins on every crowd. A full confusion matrix per worker (Dawid-Skene with the
pooled, diagonal-dominant prior of em.py) is right where workers have many judgments and make
structured mistakes (graded relevance: "2" confused with "3", not with "0"); with many classes or
occasional workers its cells are noise and one accuracy per worker (onecoin.py) labels better;
where errors depend on the true label, not on who answers, one matrix for the crowd (pooled.py)
does. On synthetic crowds of 10 classes one-coin beats the full matrix by 3-8 points; on the real
data sets in ../shared the full matrix wins by up to 30; on a 99:1 crowd one-coin found 24 of 100
rare items, the pooled matrix 77 (majority vote's). So each run chooses, on evidence:

1. **Held-out judgments** (always): the items are split in two; each model is fitted on one half
   and asked to predict every judgment of the other half from the *other* judgments of the same
   item (a judgment is never its own evidence). The mean log-probability of the judgments it
   predicted is its score: the model that foresees what the next worker will answer is the one
   that understands the crowd. This is the fit's own likelihood, out of sample, so a model with
   more parameters gains nothing by overfitting. Dawid-Skene, the reference, is left only for a
   model ahead by more than two standard errors of the paired per-judgment difference. Where the
   workers have fewer judgments each on items others judged too than there are labels
   (MIN_COMPARABLE_PER_LABEL), most rows of a worker's matrix are its prior alone and one-coin is
   the reference instead: on the researcher's crowd of occasional workers (1-3 judgments each)
   held-out judgments could not tell the two apart, and the matrices labelled 3.7 points below
   one-coin (0.697 against 0.734; majority vote 0.730). Counting a matrix's free cells, K x (K - 1),
   instead of its K rows was tried (2026-12-08): it made a 20-worker, 6-label job 5.4 points more
   accurate, but moved a 3-label dynamic-overlap job's early runs to one-coin, and dynamic overlap
   then stopped items 1.3 points less accurately (tests/quality/test_dynamic_overlap.py); open.
2. **Gold** (when at least MIN_GOLD_FOR_CHOICE gold items were judged): each model is fitted with
   half the gold answers and scored on how many of the other half it labels right (then the
   halves swap). Gold overrides the held-out choice only when it is ahead of it by more than one
   standard error of the item-by-item difference; thin gold should not overturn strong evidence.
3. **Degenerate fits are never chosen**: one label for nearly every item where the votes say
   otherwise (90 % of items or more, and 20 points above that label's share of the votes: the
   known failure of EM at low redundancy), or no convergence with posteriors still swinging.
   If every model degenerates, the answer is a weighted vote (votes weighted by each worker's
   agreement with the majority, as crowd-kit's Wawa), which cannot run away. A job with
   fewer than MIN_COMPARABLE_PER_WORKER judgments per worker on items someone else judged too gets
   majority vote: nothing there says how anyone errs.

Dawid-Skene's prior strength is chosen the same way, before the models are compared: the job's
strength, then twice and four times it, climbing while the held-out score improves. How hard to
pull a worker towards the crowd depends on the crowd: on a skewed binary crowd at 2 judgments per
item (one label on 90 % of items, a handful of rare items per worker) the job's strength lets a
worker's few rare-label answers outweigh the class prior and mislabels split votes (0.900 against
majority vote's 0.920); twice the strength gives 0.917, and the held-out score picks it on every
seed. It never goes below the job's strength: on the real crowds a weaker prior scores better
held out but labels worse (S_Rel at 2 judgments: -1.4 points).

The stronger prior, and the pooled model, are for the delivered labels only. The workers'
confusions, the class priors and the posteriors workers are measured against (their accuracy, their global skill, a model's record)
come from the model chosen, and fitted, at the job's strength, as if no other had been tried: those
are what dynamic overlap's judge decides with, and a stronger prior fitted early in a job, on a few
votes per worker, pulls good workers and spammers alike towards the crowd; the judge then trusts
the good ones less and the spammers more (letting it see them cost a replayed job 0.983 against
fixed overlap's 0.993, and a replay its saving: 6 % of judgments where it was 11 %). Nor do the
workers get the pooled model's one matrix for everyone, which says nothing of any one worker: they
get the better of Dawid-Skene and one-coin, chosen as above between those two. When the two
choices differ the run fits twice (the scores' "workers" entry says what the workers got); when
they agree, once.

The chosen model is then fitted on all the votes with all the gold; the run's parameters record
the model, the reason and every score.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt

from marketplace.consensus.em import EmFit, clamp_gold, dawid_skene, majority_posteriors
from marketplace.consensus.encode import Encoded
from marketplace.consensus.heldout import Fitter, gold_right, heldout_loglik, selection_sample
from marketplace.consensus.pooled import pooled_em
from marketplace.consensus.onecoin import (
    ONE_COIN_PSEUDO_VOTES,
    gold_one_coin,
    one_coin_accuracy,
    one_coin_em,
    one_coin_matrices,
)
from marketplace.consensus.types import FloatArray

#: Below this many judged gold items, gold is too thin to choose a model by.
MIN_GOLD_FOR_CHOICE = 10
#: Gold overrules held-out judgments only when its model gets at least this many more gold items
#: right than theirs: one or two items where two models differ are chance.
MIN_GOLD_NET = 3
#: Model selection looks at no more than about this many judgments (a seeded sample of items):
#: enough to tell the models apart, and it keeps a million-judgment run within 1.5x crowd-kit's.
SELECTION_VOTES = 200_000
#: "One label everywhere": the fitted labels give one label at least this share of the items...
COLLAPSE_SHARE = 0.9
#: ...and at least this much more than its share of the votes.
COLLAPSE_GAIN = 0.2
#: Not converged after at least SWINGING_ROUNDS rounds and a posterior still moved this much in
#: the last one: oscillating (a run capped at fewer rounds on purpose is not judged).
SWINGING = 0.1
SWINGING_ROUNDS = 20
#: Fewer judgments than this per worker on items someone else judged too, and nothing says how
#: anyone errs: majority vote.
MIN_COMPARABLE_PER_WORKER = 2
#: Fewer than one such judgment per worker per label, and most rows of a worker's confusion matrix
#: are its prior alone: one accuracy per worker, not a matrix each, is the reference to beat.
MIN_COMPARABLE_PER_LABEL = 1

#: EM rounds of the fits that only score a model (held out, on gold): on a half-sample they often
#: creep on to the 100-round cap without changing what they predict; the chosen model's fit on all
#: the votes runs the job's full rounds.
SELECTION_ROUNDS = 30
#: The candidates, the reference first: the others must predict held-out judgments clearly better.
ORDER = ("dawid-skene", "one-coin", "pooled")
#: Models whose fit may serve the workers: one matrix for the whole crowd says nothing of any one
#: worker, and dynamic overlap's judge and the workers' skills read the workers' own.
PER_WORKER = ("dawid-skene", "one-coin")
#: Multiples of the job's prior strength tried in turn while the held-out score improves.
STRENGTH_LADDER = (2.0, 4.0)



def candidates(*, prior_strength: float, max_rounds: int, tol: float) -> dict[str, Fitter]:
    """The models a run chooses from, in order of preference on a tie."""
    models: dict[str, Fitter] = {
        "one-coin": lambda enc: one_coin_em(enc, max_rounds=max_rounds, tol=tol),
        "pooled": lambda enc: pooled_em(enc, max_rounds=max_rounds, tol=tol),
        "dawid-skene": lambda enc: dawid_skene(enc, prior_strength=prior_strength, max_rounds=max_rounds, tol=tol),
    }
    return {name: models[name] for name in ORDER}


@dataclasses.dataclass(frozen=True)
class Choice:
    fit: EmFit  # the workers' confusions, the class priors, and the posteriors workers are scored by
    model: str  # the model of the delivered labels
    why: str
    scores: dict[str, Any]
    #: The delivered labels' posteriors when they come from another fit than `fit` (a stronger
    #: prior or another model: see the module docstring); None when they are `fit.posteriors`.
    delivered: FloatArray | None = None
    #: The delivered labels' model at their prior strength, to fit again on other gold without
    #: choosing anew (aggregate.unaided_gold); None: choose and fit again.
    refit: Fitter | None = None


def choose_and_fit(enc: Encoded, *, prior_strength: float, max_rounds: int, tol: float) -> Choice:
    """Score every candidate model on the job's evidence, fit the chosen one on everything: at
    the prior strength the evidence prefers for the labels, at the job's for the workers."""
    sizes = np.diff(np.append(enc.item_starts, enc.n_votes))
    comparable = int(sizes[sizes >= 2].sum())
    if comparable < MIN_COMPARABLE_PER_WORKER * enc.n_workers:
        gold_judged = int(np.isin(enc.item_idx, enc.gold_rows).sum())
        why = (f"{comparable} judgments on items judged twice or more, for {enc.n_workers} workers: "
               "too few to learn how any worker errs from agreement; " + (
                   f"each vote weighed by its worker's accuracy on gold ({gold_judged} gold answers) and on "
                   "items judged by others" if gold_judged else
                   "no gold answers either: each vote weighed by its worker's agreement on items judged by "
                   "others, where there are any, else alike at a guessed accuracy"))
        fit = gold_one_coin(enc)
        return Choice(fit, "majority-vote", why, {"comparable_judgments": comparable, "gold_judged": gold_judged},
                      refit=gold_one_coin)
    per_worker = comparable / enc.n_workers
    order = ORDER if per_worker >= MIN_COMPARABLE_PER_LABEL * enc.n_labels else (
        "one-coin", *(name for name in ORDER if name != "one-coin"))
    sample = selection_sample(enc, SELECTION_VOTES)
    rounds = min(max_rounds, SELECTION_ROUNDS)
    strength, ds_heldout, ladder = tuned_strength(sample, prior_strength=prior_strength, max_rounds=rounds, tol=tol)
    fixed = candidates(prior_strength=strength, max_rounds=rounds, tol=tol)
    others = {name: heldout_loglik(sample, fixed[name]) for name in fixed if name != "dawid-skene"}
    scores: dict[str, Any] = {
        "heldout_loglik": {name: _mean(ds_heldout[strength] if name == "dawid-skene" else others[name]) for name in fixed},
        "heldout_judgments": len(ds_heldout[strength]),
        "prior_strength": strength,
        "prior_strength_heldout": ladder,
        "comparable_per_worker": round(per_worker, 3),
    }
    gold: dict[tuple[str, float], npt.NDArray[np.bool_]] = {}  # held-out gold right, per item, by _key
    fitted: dict[tuple[str, float], EmFit] = {}  # fits on everything by _key: each made once
    rejected: dict[str, str] = {}

    def named(model: str, at: float) -> str:
        return f"{model} at {at:g}" if model == "dawid-skene" and at != prior_strength else model

    def chosen(at: float, among: tuple[str, ...] = ORDER) -> tuple[str, EmFit, str]:
        """The model of `among` the evidence prefers with Dawid-Skene's prior at `at`, fitted on everything."""
        every = candidates(prior_strength=at, max_rounds=max_rounds, tol=tol)
        models = {name: every[name] for name in order if name in among}
        ranked, why = _rank_by_heldout({name: ds_heldout[at] if name == "dawid-skene" else others[name] for name in models})
        if len(enc.gold_rows) >= MIN_GOLD_FOR_CHOICE:
            for name, fitter in candidates(prior_strength=at, max_rounds=rounds, tol=tol).items():
                if name in models and _key(name, at) not in gold:
                    gold[_key(name, at)] = gold_right(sample, fitter)
            by_gold = {name: gold[_key(name, at)] for name in models}
            scores.setdefault("gold_accuracy", {}).update(
                {named(n, at): round(float(v.mean()), 5) for n, v in by_gold.items()})
            ranked, why = _prefer_gold(ranked, why, by_gold)
        for name in ranked:
            if _key(name, at) not in fitted:
                fitted[_key(name, at)] = models[name](enc)
            reason = degenerate(enc, fitted[_key(name, at)])
            if reason is None:
                return name, fitted[_key(name, at)], why
            rejected[named(name, at)] = reason
        if ("weighted-vote", 0.0) not in fitted:
            fitted["weighted-vote", 0.0] = weighted_vote(enc)
        return "weighted-vote", fitted["weighted-vote", 0.0], "every model's fit was degenerate"

    # The workers: the model chosen, and fitted, at the job's prior strength, whatever the labels
    # get. Dynamic overlap's judge reads these confusions (and the skills these posteriors): a
    # stronger prior, fitted early in a job on a few votes per worker, pulls good workers and
    # spammers alike towards the crowd, and the judge then settles items on the wrong votes.
    workers_model, workers, workers_why = chosen(prior_strength, PER_WORKER)
    model, labelled, why = chosen(strength)
    if order != ORDER:
        why += (f"; one-coin is the reference: {per_worker:.1f} judgments per worker on items others "
                f"judged too, fewer than the {enc.n_labels} labels a matrix per worker has rows for")
    if model == "dawid-skene" and strength != prior_strength:
        why += (f"; Dawid-Skene's prior at {strength:g} pseudo-votes, not {prior_strength:g}: it "
                "predicts held-out judgments better (the workers' confusions keep the job's)")
    if rejected:
        why += f"; {', '.join(rejected)} rejected as degenerate"
    scores["rejected"] = rejected
    refit = weighted_vote if model == "weighted-vote" else candidates(
        prior_strength=strength, max_rounds=max_rounds, tol=tol)[model]
    if labelled is workers:
        return Choice(workers, model, why, scores, refit=refit)
    scores["workers"] = {"model": workers_model, "prior_strength": prior_strength, "why": workers_why}
    return Choice(workers, model, why, scores, delivered=labelled.posteriors, refit=refit)


def _prefer_gold(ranked: list[str], why: str, by_gold: dict[str, npt.NDArray[np.bool_]]) -> tuple[list[str], str]:
    """`ranked` with the model most accurate on the held-out gold items first, when it is ahead of
    the held-out choice by more than one standard error of the paired, item-by-item difference
    and by at least MIN_GOLD_NET items. Models mostly agree, so what counts on gold is the items
    where they differ: on a job of 20 workers over 6 labels with 21 gold items, the accuracy's own
    standard error let one or two such items overturn one-coin's held-out lead (many standard
    errors), and the matrices chosen labelled 2-5 points below one-coin. (Held-out judgments may
    not veto gold: on the adversarial crowd with 200 gold items they favour the matrices by 16-19
    standard errors, and gold is right that one-coin labels better.) Only a model with a matrix or
    an accuracy per worker can be moved up so: the pooled model claims every worker errs alike,
    which every held-out judgment tests and a dozen gold items cannot (on D_Duck at 3 judgments, 6
    of 11 gold items against Dawid-Skene's 4 chose it, and it labelled 13 points worse)."""
    n = len(next(iter(by_gold.values())))
    best = max((name for name in by_gold if name in PER_WORKER), key=lambda name: float(by_gold[name].mean()))
    gain = by_gold[best].astype(np.float64) - by_gold[ranked[0]]
    if _lead(gain, sigmas=1.0) and gain.sum() >= MIN_GOLD_NET:
        return [best, *(name for name in ranked if name != best)], (
            f"most accurate on held-out gold ({n} gold items), by more than one standard error")
    return ranked, why + f"; held-out gold ({n} items) does not tell the models apart by a standard error"


def _lead(gain: FloatArray, *, sigmas: float) -> bool:
    """Whether paired per-item gains are positive by more than `sigmas` standard errors."""
    if len(gain) < 2:
        return False
    return float(gain.mean()) > sigmas * float(gain.std(ddof=1) / np.sqrt(len(gain)))


def _key(model: str, strength: float) -> tuple[str, float]:
    """A fit or score by model and prior strength: only Dawid-Skene's depends on the strength."""
    return model, strength if model == "dawid-skene" else 0.0


def tuned_strength(
    enc: Encoded, *, prior_strength: float, max_rounds: int, tol: float
) -> tuple[float, dict[float, FloatArray], dict[str, float | None]]:
    """Dawid-Skene's prior strength for this job (see the module docstring): `prior_strength`,
    then each step of STRENGTH_LADDER times it while the held-out score improves. Returns the
    strength, the per-judgment held-out scores of every strength tried, and their means (keyed
    by the strength as text, for the run's parameters)."""

    def scored(strength: float) -> FloatArray:
        return heldout_loglik(
            enc, lambda sub: dawid_skene(sub, prior_strength=strength, max_rounds=max_rounds, tol=tol)
        )

    best = prior_strength
    heldout = {best: scored(best)}
    tried: dict[str, float | None] = {f"{best:g}": _mean(heldout[best])}
    if prior_strength <= 0 or len(heldout[best]) < 2:  # plain DS asked for, or nothing to compare
        return best, heldout, tried
    for factor in STRENGTH_LADDER:
        strength = prior_strength * factor
        heldout[strength] = scored(strength)
        tried[f"{strength:g}"] = _mean(heldout[strength])
        if float(heldout[strength].mean()) <= float(heldout[best].mean()):
            break
        best = strength
    return best, heldout, tried


def _mean(values: FloatArray) -> float | None:
    return round(float(values.mean()), 5) if len(values) else None


def degenerate(enc: Encoded, fit: EmFit) -> str | None:
    """Why a fit cannot be trusted, or None: one label for (nearly) every item where the votes
    spread over the labels, or no convergence with posteriors still swinging."""
    regular = np.ones(enc.n_items, dtype=bool)
    regular[enc.gold_rows] = False
    if regular.sum() >= 10 and enc.n_labels > 1:
        fitted = np.bincount(fit.posteriors[regular].argmax(axis=1), minlength=enc.n_labels) / regular.sum()
        # The share of the votes, not of majority-vote labels: ties in those go to the first label.
        voted = np.bincount(enc.codes[regular[enc.item_idx]], minlength=enc.n_labels)
        voted = voted / max(int(voted.sum()), 1)
        top = int(fitted.argmax())
        if fitted[top] >= COLLAPSE_SHARE and fitted[top] >= voted[top] + COLLAPSE_GAIN:
            return (f"labels {fitted[top]:.0%} of items {enc.labels[top]!r}, which got "
                    f"{voted[top]:.0%} of the votes")
    if not fit.converged and fit.rounds >= SWINGING_ROUNDS and fit.last_change > SWINGING:
        return f"did not converge in {fit.rounds} rounds (a posterior still moved {fit.last_change:.2f})"
    return None


def _rank_by_heldout(heldout: dict[str, FloatArray]) -> tuple[list[str], str]:
    """Candidates in preference order: the first (the reference leads) that no other predicts the
    same held-out judgments better by more than two standard errors of the paired difference, then
    the rest best first. Noise must not switch models, and a model must clearly beat every one ahead
    of it, not only the reference: on four photos judged by four workers, the pooled model beat
    Dawid-Skene by 2.1 standard errors but not one-coin, which alone caught the contrarian."""
    order = list(heldout)
    reference = order[0]
    # Behind the reference, best first: should the reference be degenerate, the next best stands in.
    names = [reference, *sorted(order[1:], key=lambda name: -float(np.mean(heldout[name] if len(heldout[name]) else 0.0)))]
    if len(heldout[reference]) < 2:
        return names, f"{reference}, the reference model: too few items with two judgments to compare models"

    def lead(of: str, over: str) -> tuple[float, float]:
        gain = heldout[of] - heldout[over]
        return float(gain.mean()), float(gain.std(ddof=1) / np.sqrt(len(gain)))

    def clearly_beaten(name: str) -> bool:
        return any(lead(other, name)[0] > 2 * lead(other, name)[1] for other in order if other != name)

    first = next((name for name in order if not clearly_beaten(name)), names[0])
    best = max(order, key=lambda name: float(heldout[name].mean()))
    if first == reference:
        if best == reference:
            return names, f"{reference}, the reference model: no other predicts held-out judgments clearly better"
        return names, f"{reference}, the reference model: {best} is ahead on held-out judgments by under two standard errors"
    gain, error = lead(first, reference)
    ranked = [first, *(name for name in names if name != first)]
    if gain > 2 * error:
        return ranked, (f"predicts held-out judgments better than {reference} by {gain:.4f} nats per "
                        f"judgment (more than two standard errors, {error:.4f})")
    return ranked, (f"the first of {', '.join(order)} that no other predicts held-out judgments better "
                    "than by more than two standard errors")


def weighted_vote(enc: Encoded) -> EmFit:
    """Votes weighted by each worker's agreement with majority vote (crowd-kit's Wawa), in numpy."""
    k = enc.n_labels
    majority = majority_posteriors(enc).argmax(axis=1)
    judged = np.bincount(enc.worker_idx, minlength=enc.n_workers)
    agree = np.bincount(enc.worker_idx, weights=(enc.codes == majority[enc.item_idx]), minlength=enc.n_workers)
    skill = agree / np.maximum(judged, 1)
    cells = np.bincount(enc.item_idx * k + enc.codes, weights=skill[enc.worker_idx], minlength=enc.n_items * k)
    cells = cells.reshape(enc.n_items, k)
    totals = cells.sum(axis=1, keepdims=True)
    posteriors = clamp_gold(enc, np.divide(cells, totals, out=np.full_like(cells, 1.0 / k), where=totals > 0))
    return EmFit(posteriors, _shrunk_one_coin(enc, posteriors), posteriors.mean(axis=0), 1, True)


def _shrunk_one_coin(enc: Encoded, posteriors: FloatArray) -> FloatArray:
    """Confusions for a vote-based answer: each worker's share right under it, shrunk towards the
    crowd's as one-coin EM does (dynamic overlap weighs the next votes with these)."""
    return one_coin_matrices(one_coin_accuracy(enc, posteriors, ONE_COIN_PSEUDO_VOTES), enc.n_labels)
