"""The registry of consensus methods; `aggregate` reaches crowd-kit only through here
(`reference.py` runs it unwrapped, for tests and the benchmark).

| name     | what                                                           | gold in fit |
|----------|----------------------------------------------------------------|-------------|
| "quorum" | DEFAULT. Chooses per run between the next two and one matrix   | yes         |
|          | for the whole crowd (pooled.py) on the job's own evidence:     |             |
|          | held-out judgments, gold, degeneracy (choose.py)               |             |
| "quorum-ds" | Dawid-Skene with a pooled, diagonal-dominant Dirichlet prior | yes         |
|          | on every worker's confusion matrix (em.py)                     |             |
| "quorum-onecoin" | one-coin Dawid-Skene, accuracies shrunk (onecoin.py)  | yes         |
| "ds"     | crowd-kit `DawidSkene`, as it is (`true_labels=` gold)         | yes         |
| "mv"     | majority vote; ties go to the label first in the label set     | no          |
| "ocds"   | crowd-kit `OneCoinDawidSkene`                                  | no          |
| "wawa"   | crowd-kit `Wawa`: votes weighted by agreement with majority    | no          |
| "glad"   | crowd-kit `GLAD`                                               | no          |
| "mace"   | crowd-kit `MACE` (variational, seeded, 10 restarts)            | no          |
| "zbs"    | crowd-kit `ZeroBasedSkill`                                     | no          |
| "kos"    | crowd-kit `KOS` (two labels only; labels, no probabilities)    | no          |
| "mmsr"   | crowd-kit `MMSR` (seeded; labels, no probabilities)            | no          |
| "gmv"    | crowd-kit `GoldMajorityVote` (workers weighted by gold; needs  | yes         |
|          | gold items with judgments)                                     |             |

Methods that give labels but no probabilities report them with probability 1.

Methods that cannot take gold in the fit still report gold items with their gold label (the
posteriors of gold items are set to one-hot afterwards), so results are comparable. What a method
says of a gold item without its answer (aggregate.unaided_gold) is, for those, their own posterior
before that; a method with gold in the fit is fitted again on half the gold for the other half.

crowd-kit with `true_labels` (what it does, read in crowdkit/aggregation/classification/
dawid_skene.py, 1.4.2): it overwrites the posteriors of gold items with one-hot rows after the
majority-vote start and after every E-step. Gold items thus enter the class priors and every
M-step as certain, so workers' confusion matrices are learnt partly from gold; gold on items
nobody judged is ignored. Its `initial_error` is added to the counts only in the first M-step.

crowd-kit is imported inside the adapters that use it, not at the top: importing it pulls in
scipy.stats and costs ~3 s, which every web process would pay for the default method that
does not need it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
# pandas only where a crowd-kit fit needs its frames, imported there: at module level it was
# about 2 s of every web worker's boot (README, "Reloads and restarts").
if TYPE_CHECKING:
    import pandas as pd

from marketplace.consensus.choose import choose_and_fit
from marketplace.consensus.em import dawid_skene, majority_posteriors
from marketplace.consensus.onecoin import ONE_COIN_PSEUDO_VOTES, one_coin_em
from marketplace.consensus.encode import Encoded
from marketplace.consensus.types import FloatArray

#: Pseudo-votes per true label (on average) that "quorum"'s pooled prior adds to every worker's
#: confusion counts. Chosen on measurements (bench/consensus.py --datasets and synthetic crowds):
#: 3-5 keep D_Duck at DS-run-to-the-end (0.898) and D_Product within 0.1 point of DS, 5+ lifts
#: S_Rel above DS, and any value from 3 to 8 beats majority vote on a crowd of occasional workers.
DEFAULT_PRIOR_STRENGTH = 5.0


@dataclass(frozen=True)
class Options:
    max_rounds: int
    tol: float
    prior_strength: float = DEFAULT_PRIOR_STRENGTH


@dataclass(frozen=True)
class MethodFit:
    """What a method hands back; `confusions`/`priors` None means "derive from posteriors"."""

    posteriors: FloatArray
    rounds: int
    converged: bool
    parameters: dict[str, Any] = field(default_factory=dict)
    confusions: FloatArray | None = None
    priors: FloatArray | None = None
    #: What workers' accuracy is measured against when not `posteriors` (quorum's workers come
    #: from a fit at the job's prior strength, its labels maybe from one at a stronger prior).
    worker_posteriors: FloatArray | None = None
    #: The labels' model fitted again on other gold (aggregate.unaided_gold), without choosing
    #: anew; None: the method's whole fit is run again.
    refit: Callable[[Encoded], FloatArray] | None = None


@dataclass(frozen=True)
class Method:
    name: str
    description: str
    uses_gold: bool
    fit: Callable[[Encoded, Options], MethodFit]


def _frame(enc: Encoded) -> pd.DataFrame:
    """crowd-kit's input: dense integer task/worker/label columns (its fastest case)."""
    import pandas as pd

    return pd.DataFrame({"task": enc.item_idx, "worker": enc.worker_idx, "label": enc.codes})


def _posteriors(probas: pd.DataFrame, enc: Encoded) -> FloatArray:
    """crowd-kit's probas_ (rows = tasks in order of appearance, columns = labels seen) as an
    (items x labels) array in our order, zero for labels nobody chose."""
    frame = probas.reindex(index=range(enc.n_items), columns=range(enc.n_labels))
    return frame.fillna(0.0).to_numpy(dtype=np.float64)


def _stopped_early(history: list[float], n_iter: int, tol: float) -> bool:
    """crowd-kit leaves its loop when the loss gains less than `tol` (or after n_iter rounds)."""
    return len(history) < n_iter or (len(history) >= 2 and history[-1] - history[-2] < tol)


def _params(opts: Options) -> dict[str, Any]:
    return {
        "max_rounds": opts.max_rounds,
        "tol": opts.tol,
        "prior_strength": opts.prior_strength,
        "stop": "max abs posterior change < tol",
    }


def _fit_quorum(enc: Encoded, opts: Options) -> MethodFit:
    choice = choose_and_fit(
        enc, prior_strength=opts.prior_strength, max_rounds=opts.max_rounds, tol=opts.tol
    )
    em = choice.fit
    params = dict(_params(opts), model=choice.model, why=choice.why, scores=choice.scores)
    delivered = choice.delivered  # labels from a stronger-prior fit, if any; workers from `em`
    return MethodFit(
        em.posteriors if delivered is None else delivered, em.rounds, em.converged, params,
        em.confusions, em.priors, worker_posteriors=None if delivered is None else em.posteriors,
        refit=lambda given: choice.refit(given).posteriors,
    )


def _fit_quorum_ds(enc: Encoded, opts: Options) -> MethodFit:
    em = dawid_skene(
        enc, prior_strength=opts.prior_strength, max_rounds=opts.max_rounds, tol=opts.tol
    )
    params = _params(opts)
    return MethodFit(em.posteriors, em.rounds, em.converged, params, em.confusions, em.priors,
                     refit=lambda given: dawid_skene(given, prior_strength=opts.prior_strength,
                                                     max_rounds=opts.max_rounds, tol=opts.tol).posteriors)


def _fit_quorum_one_coin(enc: Encoded, opts: Options) -> MethodFit:
    em = one_coin_em(enc, max_rounds=opts.max_rounds, tol=opts.tol)
    params = dict(_params(opts), pseudo_votes=ONE_COIN_PSEUDO_VOTES)
    del params["prior_strength"]
    return MethodFit(em.posteriors, em.rounds, em.converged, params, em.confusions, em.priors,
                     refit=lambda given: one_coin_em(given, max_rounds=opts.max_rounds, tol=opts.tol).posteriors)


def _fit_ds(enc: Encoded, opts: Options) -> MethodFit:
    import pandas as pd
    from crowdkit.aggregation import DawidSkene  # deferred: see the module docstring

    model = DawidSkene(n_iter=opts.max_rounds, tol=opts.tol)
    gold = None
    if len(enc.gold_rows):
        gold = pd.Series(enc.gold_codes, index=pd.Index(enc.gold_rows, name="task"))
    model.fit(_frame(enc), true_labels=gold)
    history = model.loss_history_
    return MethodFit(
        _posteriors(model.probas_, enc),
        len(history),
        _stopped_early(history, opts.max_rounds, opts.tol),
        {"max_rounds": opts.max_rounds, "tol": opts.tol, "stop": "crowd-kit ELBO gain < tol"},
    )


def _fit_mv(enc: Encoded, opts: Options) -> MethodFit:
    return MethodFit(majority_posteriors(enc), 0, True, {"tie": "first label in the label set"})


def _fit_wawa(enc: Encoded, opts: Options) -> MethodFit:
    from crowdkit.aggregation import Wawa  # deferred: see the module docstring

    frame = _frame(enc)
    model = Wawa().fit(frame)
    # crowd-kit's MajorityVote breaks ties at random; Wawa's weighted vote rarely ties.
    return MethodFit(_posteriors(model.predict_proba(frame), enc), 1, True, {"weights": "agreement with MV"})


def _fit_ocds(enc: Encoded, opts: Options) -> MethodFit:
    from crowdkit.aggregation import OneCoinDawidSkene  # deferred: see the module docstring

    return _fit_iterative(OneCoinDawidSkene(n_iter=opts.max_rounds, tol=opts.tol), enc, opts)


def _fit_glad(enc: Encoded, opts: Options) -> MethodFit:
    from crowdkit.aggregation import GLAD  # deferred: see the module docstring

    return _fit_iterative(GLAD(n_iter=opts.max_rounds, tol=opts.tol), enc, opts)


def _fit_iterative(model: Any, enc: Encoded, opts: Options) -> MethodFit:
    """Fit a crowd-kit model built with n_iter=max_rounds and tol, which keeps a loss_history_."""
    model.fit(_frame(enc))
    history = model.loss_history_
    return MethodFit(
        _posteriors(model.probas_, enc),
        len(history),
        _stopped_early(history, opts.max_rounds, opts.tol),
        {"max_rounds": opts.max_rounds, "tol": opts.tol},
    )


def _fit_mace(enc: Encoded, opts: Options) -> MethodFit:
    from crowdkit.aggregation import MACE  # deferred: see the module docstring

    # MACE runs a fixed number of rounds per restart; 50 is crowd-kit's default.
    n_iter = min(opts.max_rounds, 50)
    model = MACE(n_iter=n_iter, random_state=0)
    model.fit(_frame(enc))
    return MethodFit(
        _posteriors(model.probas_, enc),
        n_iter,
        False,
        {"n_iter": n_iter, "n_restarts": model.n_restarts, "random_state": 0},
    )


def _one_hot(labels: pd.Series, enc: Encoded) -> FloatArray:
    """crowd-kit's labels_ (task -> label code) as one-hot posteriors in our order."""
    import pandas as pd

    codes = labels.reindex(range(enc.n_items)).to_numpy()
    posteriors = np.zeros((enc.n_items, enc.n_labels))
    known = ~pd.isna(codes)
    posteriors[np.flatnonzero(known), codes[known].astype(np.int64)] = 1.0
    posteriors[~known] = 1.0 / enc.n_labels
    return posteriors


def _fit_zbs(enc: Encoded, opts: Options) -> MethodFit:
    from crowdkit.aggregation import ZeroBasedSkill  # deferred: see the module docstring

    frame = _frame(enc)
    model = ZeroBasedSkill(n_iter=opts.max_rounds).fit(frame)
    return MethodFit(_posteriors(model.predict_proba(frame), enc), opts.max_rounds, False, {"n_iter": opts.max_rounds})


def _fit_kos(enc: Encoded, opts: Options) -> MethodFit:
    from crowdkit.aggregation import KOS  # deferred: see the module docstring

    if enc.n_labels != 2:
        raise ValueError(f"kos needs exactly two labels; this job has {enc.n_labels}")
    model = KOS(n_iter=opts.max_rounds, random_state=0)
    return MethodFit(_one_hot(model.fit_predict(_frame(enc)), enc), opts.max_rounds, False,
                     {"n_iter": opts.max_rounds, "random_state": 0, "probabilities": "labels only"})


def _fit_mmsr(enc: Encoded, opts: Options) -> MethodFit:
    from crowdkit.aggregation import MMSR  # deferred: see the module docstring

    model = MMSR(random_state=0)
    try:
        labels = model.fit_predict(_frame(enc))
    except ValueError as exc:  # e.g. its skills did not converge: say so, as a failed run
        raise ValueError(f"crowd-kit MMSR could not fit these judgments: {exc}") from None
    return MethodFit(_one_hot(labels, enc), 0, True, {"random_state": 0, "probabilities": "labels only"})


def _fit_gmv(enc: Encoded, opts: Options) -> MethodFit:
    import pandas as pd
    from crowdkit.aggregation import GoldMajorityVote, MajorityVote  # deferred: see the docstring

    if not len(enc.gold_rows):
        raise ValueError("gmv weighs workers by their gold answers; this job has no judged gold item")
    frame = _frame(enc)
    gold = pd.Series(enc.gold_codes, index=pd.Index(enc.gold_rows, name="task"))
    skills = GoldMajorityVote().fit(frame, gold).skills_
    # crowd-kit refuses a worker who answered no gold; such a worker gets the mean gold skill.
    default = float(skills.mean())
    vote = MajorityVote(default_skill=default, on_missing_skill="value")
    probas = vote.fit_predict_proba(frame, skills)
    params = {"weights": "gold accuracy", "default_skill": round(default, 6)}
    # Fitted again on part of the gold (aggregate.unaided_gold), a part may hold none: then
    # every worker weighs alike, which is majority vote.
    return MethodFit(_posteriors(probas, enc), 1, True, params, refit=lambda given: (
        _fit_gmv(given, opts) if len(given.gold_rows) else _fit_mv(given, opts)).posteriors)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("quorum", "the model the job's evidence supports (choose.py)", True, _fit_quorum),
        Method("quorum-ds", "Dawid-Skene, diagonal-dominant pooled prior", True, _fit_quorum_ds),
        Method("quorum-onecoin", "one-coin Dawid-Skene, shrunk accuracies", True, _fit_quorum_one_coin),
        Method("ds", "crowd-kit DawidSkene as it is", True, _fit_ds),
        Method("mv", "majority vote, ties to the first label", False, _fit_mv),
        Method("wawa", "crowd-kit Wawa: votes weighted by agreement with MV", False, _fit_wawa),
        Method("ocds", "crowd-kit OneCoinDawidSkene", False, _fit_ocds),
        Method("glad", "crowd-kit GLAD", False, _fit_glad),
        Method("mace", "crowd-kit MACE", False, _fit_mace),
        Method("zbs", "crowd-kit ZeroBasedSkill", False, _fit_zbs),
        Method("kos", "crowd-kit KOS (two labels only)", False, _fit_kos),
        Method("mmsr", "crowd-kit MMSR", False, _fit_mmsr),
        Method("gmv", "crowd-kit GoldMajorityVote (needs gold)", True, _fit_gmv),
    )
}


def method_get(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        choices = ", ".join(sorted(METHODS))
        raise ValueError(f"unknown consensus method {name!r}; choose from {choices}") from None
