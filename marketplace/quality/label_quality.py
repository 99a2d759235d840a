"""Per-label precision and recall against gold: the delivered labels and each model version.

Gold items are the only items whose true label is known, so they are the measure. For a label L:
precision = of the gold items given L, the share whose gold answer is L; recall = of the gold items
whose answer is L, the share given L. Each figure comes with its counts (`support`: gold items
whose answer is L; `predicted`: gold items given L), so a 100 % over two items reads as two items.
A figure with nothing under it (no item given L, or none whose answer is L) is None, not 0.

Sources: the delivered consensus labels and every model version with predictions on the job's gold
items (a model's label is what it predicted, whatever consensus weighs it at). A gold item's
delivered label is its known answer (consensus sets it there: consensus/aggregate.py), so measuring
that could only ever give 100 %. What is measured instead is the label consensus gives the gold
item from its judgments without being told its answer (the latest succeeded run's
ItemResult.label_without_answer): the label any other item with those judgments gets. A gold item
nobody judged has no result, and runs from before that field have none: both are left out.

A multi-label job (gold answers are sets) is measured label by label: for a label L, precision =
of the gold items whose delivered set holds L, the share whose gold set holds it; recall = of the
gold items whose gold set holds L, the share whose delivered set does. Its sources are the
delivered sets and the workers' judgments (every accepted gold answer, pooled: a gold item judged
three times counts three times). A gold item's delivered set is its known set (consensus sets each
label there), so what is measured is the set consensus gives it without its answer (the latest
run's ItemResult.probabilities_without_answer, labels at 0.5 or more); runs from before that field
show no delivered figure. A source's
`accuracy` there is the exact-set share, and `label_accuracy` the share of right (item, label)
decisions, the measure gold scores workers by.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, F, OuterRef, Q, Subquery

from marketplace.consensus.multilabel import THRESHOLD
from marketplace.jobs.models import GoldAnswer, Job, Prediction, PrelabelShown
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality.models import ConsensusRun, ItemResult
from marketplace.quality.results import run_latest_succeeded

SOURCE_CONSENSUS = "consensus"
SOURCE_MODEL = "model"
SOURCE_JUDGMENTS = "judgments"  # multi-label jobs: the workers' gold answers, pooled


@dataclass(frozen=True, slots=True)
class LabelFigures:
    label: str
    support: int  # gold items whose answer is this label (and that this source labeled)
    predicted: int  # gold items this source gave this label
    correct: int  # both
    precision: float | None  # correct / predicted; None when predicted is 0
    recall: float | None  # correct / support; None when support is 0


@dataclass(frozen=True, slots=True)
class SourceFigures:
    """One source's labels on gold items: the delivered consensus, or one model version."""

    source: str  # SOURCE_CONSENSUS or SOURCE_MODEL
    name: str  # "consensus", or the model's name
    version: str  # "" for consensus
    gold_items: int  # gold items this source labeled
    correct: int
    accuracy: float | None  # multi-label: the share of exact sets
    labels: tuple[LabelFigures, ...]
    label_accuracy: float | None = None  # multi-label only: share of right (item, label) decisions
    measure: str = ""  # what the source's label on a gold item is, in a client's words


#: What the delivered labels are measured by on gold (single-label jobs), for the page and the API.
CONSENSUS_MEASURE = "consensus's label for gold items, computed without their known answer"
#: The same for multi-label jobs, whose gold answers are sets.
MULTI_CONSENSUS_MEASURE = "consensus's label sets for gold items, computed without their known answers"


@dataclass(frozen=True, slots=True)
class PrelabelFigures:
    """A job that shows pre-labels: how many accepted judgments had one on screen, and how many of
    those chose it. Those agreements are not independent of the model (anchoring). The control
    group (labeling/prelabels.py) made `judgments_blind` without it: their agreement with the
    model is the unanchored one, and the difference between the two is the anchoring measured."""

    model: str  # "name version"
    judgments_shown: int
    judgments_agreeing: int
    judgments_blind: int = 0  # accepted judgments whose suggestion was withheld (control group)
    blind_agreeing: int = 0  # of those, the ones that chose the model's label all the same
    blind_share: float = 0.0  # the share of (item, worker) pairs held blind now (the setting)
    # The model's accuracy as the latest run measured it on the blind judgments alone, and on
    # every judgment (anchored: overstated); None before a run measured it.
    model_accuracy_blind: float | None = None
    model_items_blind: int = 0  # items with a blind judgment that measure stands on
    model_accuracy_all: float | None = None

    @property
    def agreement_shown(self) -> float | None:
        return self.judgments_agreeing / self.judgments_shown if self.judgments_shown else None

    @property
    def agreement_blind(self) -> float | None:
        return self.blind_agreeing / self.judgments_blind if self.judgments_blind else None

    @property
    def anchoring(self) -> float | None:
        """How much more often people chose the model's label when they saw it (shown - blind)."""
        shown, blind = self.agreement_shown, self.agreement_blind
        return None if shown is None or blind is None else shown - blind


@dataclass(frozen=True, slots=True)
class LabelQuality:
    run_id: int | None  # the run whose labels are measured; None before the first
    gold_items: int  # gold items of the job with an answer
    prelabels_shown: bool  # workers saw a model's label as a suggestion (anchoring: see README)
    sources: tuple[SourceFigures, ...]  # consensus first (when a run exists), then models
    prelabels: PrelabelFigures | None = None  # None when the job shows none


def per_label(pairs: Iterable[tuple[str, str]], labels: Sequence[str]) -> tuple[LabelFigures, ...]:
    """Precision and recall per label from (gold answer, given label) pairs, in `labels` order."""
    support = dict.fromkeys(labels, 0)
    predicted = dict.fromkeys(labels, 0)
    correct = dict.fromkeys(labels, 0)
    for truth, given in pairs:
        if truth in support:
            support[truth] += 1
        if given in predicted:
            predicted[given] += 1
        if truth == given and truth in correct:
            correct[truth] += 1
    return tuple(
        LabelFigures(
            label=label,
            support=support[label],
            predicted=predicted[label],
            correct=correct[label],
            precision=correct[label] / predicted[label] if predicted[label] else None,
            recall=correct[label] / support[label] if support[label] else None,
        )
        for label in labels
    )


def _source(source: str, name: str, version: str, pairs: list[tuple[str, str]],
            labels: Sequence[str], measure: str = "") -> SourceFigures:
    right = sum(1 for truth, given in pairs if truth == given)
    return SourceFigures(
        source=source, name=name, version=version, gold_items=len(pairs), correct=right,
        accuracy=right / len(pairs) if pairs else None, labels=per_label(pairs, labels),
        measure=measure,
    )


def job_label_quality(*, job: Job) -> LabelQuality:
    """The job's per-label figures (three queries; gold items are a small share of a job).

    The caller has checked access (the job's organization or an admin)."""
    if job.multi_label:
        return _multi_label_quality(job=job)
    labels = job.label_keys
    gold = _gold_labels(job)
    run = run_latest_succeeded(job_id=job.pk)
    sources: list[SourceFigures] = []
    delivered = _consensus_source(run, gold, labels) if run is not None else None
    if delivered is not None:
        sources.append(delivered)
    by_model: dict[tuple[int, str, str], list[tuple[str, str]]] = {}
    predictions = (
        Prediction.objects.filter(job=job, item__is_gold=True)
        .values_list("model_id", "model__name", "model__version", "item_id", "label")
        .order_by("model_id", "item_id")
    )
    for model_id, name, version, item_id, label in predictions:
        if item_id not in gold:
            continue
        by_model.setdefault((model_id, name, version), []).append((gold[item_id], label))
    for (_, name, version), pairs in by_model.items():
        sources.append(_source(SOURCE_MODEL, name, version, pairs, labels))
    prelabels = job_prelabel_figures(job=job)
    return LabelQuality(
        run_id=run.pk if run is not None else None,
        gold_items=len(gold),
        prelabels_shown=prelabels is not None,
        sources=tuple(sources),
        prelabels=prelabels,
    )


def run_heldout_figures(*, job: Job, run: ConsensusRun) -> SourceFigures | None:
    """One run's delivered labels measured on the job's gold items labelled without their answer,
    per label (the consensus source of job_label_quality, for any run: the run API shows it).
    None when the run labelled no gold item so (a run from before that, or a job without gold)."""
    if job.multi_label:
        return _multi_consensus_source(run, _gold_sets(job), job.label_keys)
    return _consensus_source(run, _gold_labels(job), job.label_keys)


def _gold_labels(job: Job) -> dict[int, str]:
    return dict(GoldAnswer.objects.filter(item__job=job).values_list("item_id", "label"))


def _gold_sets(job: Job) -> dict[int, frozenset[str]]:
    """Gold answer sets, keys no longer in the label set left out (they are not decisions)."""
    known = set(job.label_keys)
    return {item: frozenset(sets) & known for item, sets in
            GoldAnswer.objects.filter(item__job=job, labels__isnull=False).values_list("item_id", "labels")}


def _consensus_source(run: ConsensusRun, gold: dict[int, str], labels: Sequence[str]) -> SourceFigures | None:
    rows = ItemResult.objects.filter(run=run, item__is_gold=True).exclude(
        label_without_answer=""
    ).values_list("item_id", "label_without_answer")
    pairs = [(gold[item_id], label) for item_id, label in rows if item_id in gold]
    if not pairs:  # a run from before label_without_answer has nothing to measure
        return None
    return _source(SOURCE_CONSENSUS, "consensus", "", pairs, labels, CONSENSUS_MEASURE)


def _multi_consensus_source(run: ConsensusRun, gold: dict[int, frozenset[str]],
                            labels: Sequence[str]) -> SourceFigures | None:
    known = set(labels)
    rows = ItemResult.objects.filter(
        run=run, item_id__in=list(gold), probabilities_without_answer__isnull=False
    ).values_list("item_id", "probabilities_without_answer")
    delivered = [(gold[item], frozenset(k for k, p in probabilities.items() if p >= THRESHOLD) & known)
                 for item, probabilities in rows]
    if not delivered:  # a run from before probabilities_without_answer has nothing to measure
        return None
    return _multi_source(SOURCE_CONSENSUS, "consensus", delivered, labels, MULTI_CONSENSUS_MEASURE)


def job_prelabel_figures(*, job: Job) -> PrelabelFigures | None:
    """Judgments made with a pre-label on screen (jobs.PrelabelShown, by item and worker), and
    those that chose it; None when the job shows no pre-labels and never did."""
    if job.prelabel_model_id is None and not PrelabelShown.objects.filter(job=job).exists():
        return None  # the common case: one indexed probe, no walk of the judgments
    pair = PrelabelShown.objects.filter(job=job, item_id=OuterRef("item_id"),
                                        worker_id=OuterRef("worker_id"))
    agrees = Q(label=F("prelabel"))
    rows = (
        Judgment.objects.filter(job=job, status=JudgmentStatus.ACCEPTED)
        .annotate(prelabel=Subquery(pair.values("label")[:1]), withheld=Subquery(pair.values("blind")[:1]))
        .filter(prelabel__isnull=False)
        .aggregate(shown=Count("id", filter=Q(withheld=False)), agreeing=Count("id", filter=agrees & Q(withheld=False)),
                   blind=Count("id", filter=Q(withheld=True)), blind_agreeing=Count("id", filter=agrees & Q(withheld=True)))
    )
    if job.prelabel_model_id is None and not rows["shown"] and not rows["blind"]:
        return None
    model = job.prelabel_model
    measured = _model_measured(job=job, model_id=job.prelabel_model_id)
    blind = measured.get("blind") if isinstance(measured.get("blind"), dict) else {}
    return PrelabelFigures(
        model=f"{model.name} {model.version}" if model is not None else "?",
        judgments_shown=rows["shown"], judgments_agreeing=rows["agreeing"],
        judgments_blind=rows["blind"], blind_agreeing=rows["blind_agreeing"],
        blind_share=float(settings.QUORUM_PRELABEL_BLIND_SHARE),
        model_accuracy_blind=_share(blind.get("accuracy")), model_items_blind=int(blind.get("items") or 0),
        model_accuracy_all=_share(measured.get("accuracy")),
    )


def multi_per_label(pairs: Iterable[tuple[frozenset[str], frozenset[str]]],
                    labels: Sequence[str]) -> tuple[LabelFigures, ...]:
    """Precision and recall per label from (gold set, given set) pairs, in `labels` order."""
    support = dict.fromkeys(labels, 0)
    predicted = dict.fromkeys(labels, 0)
    correct = dict.fromkeys(labels, 0)
    for truth, given in pairs:
        for label in labels:
            support[label] += label in truth
            predicted[label] += label in given
            correct[label] += label in truth and label in given
    return tuple(
        LabelFigures(
            label=label, support=support[label], predicted=predicted[label], correct=correct[label],
            precision=correct[label] / predicted[label] if predicted[label] else None,
            recall=correct[label] / support[label] if support[label] else None,
        )
        for label in labels
    )


def _multi_source(source: str, name: str, pairs: list[tuple[frozenset[str], frozenset[str]]],
                  labels: Sequence[str], measure: str = "") -> SourceFigures:
    exact = sum(1 for truth, given in pairs if truth == given)
    wrong = sum(len(truth ^ given) for truth, given in pairs)
    decisions = len(pairs) * len(labels)
    return SourceFigures(
        source=source, name=name, version="", gold_items=len(pairs), correct=exact,
        accuracy=exact / len(pairs) if pairs else None, labels=multi_per_label(pairs, labels),
        label_accuracy=(decisions - wrong) / decisions if decisions else None, measure=measure,
    )


def _multi_label_quality(*, job: Job) -> LabelQuality:
    """A multi-label job's figures: the delivered sets, then the workers' gold answers (two
    queries besides the gold sets; keys no longer in the label set are not decisions)."""
    labels = job.label_keys
    known = set(labels)
    gold = _gold_sets(job)
    run = run_latest_succeeded(job_id=job.pk)
    sources: list[SourceFigures] = []
    delivered = _multi_consensus_source(run, gold, labels) if run is not None else None
    if delivered is not None:
        sources.append(delivered)
    answers = [
        (gold[item], frozenset(ticked) & known)
        for item, ticked in Judgment.objects.filter(
            job=job, is_gold=True, status=JudgmentStatus.ACCEPTED, labels__isnull=False
        ).values_list("item_id", "labels").iterator(chunk_size=5_000)
        if item in gold
    ]
    if answers:
        sources.append(_multi_source(SOURCE_JUDGMENTS, "workers", answers, labels))
    return LabelQuality(run_id=run.pk if run is not None else None, gold_items=len(gold),
                        prelabels_shown=False, sources=tuple(sources))


def _model_measured(*, job: Job, model_id: int | None) -> dict[str, Any]:
    """What the latest run recorded of this model version (quality/predictions.py), or {}."""
    run = run_latest_succeeded(job_id=job.pk)
    parameters = run.parameters if run is not None and isinstance(run.parameters, dict) else {}
    for entry in parameters.get("models") or []:
        if isinstance(entry, dict) and entry.get("model_id") == model_id:
            return entry
    return {}


def _share(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
