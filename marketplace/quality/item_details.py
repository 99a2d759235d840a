"""One item as its job's client sees it in the data browser: every judgment under the job's
worker pseudonyms with each worker's quality, the latest posterior, the expert's review, the gold
answer and the models' predictions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketplace.errors import NotFound
from marketplace.jobs.exporting import worker_pseudonym
from marketplace.jobs.models import Item, Job, Prediction
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality.browsing import latest_run
from marketplace.quality.models import ConsensusRun, ExpertReview, ItemResult
from marketplace.quality.selectors import job_worker_quality


@dataclass(frozen=True)
class JudgmentShown:
    """One judgment as the job's client sees it: the worker under the job's pseudonym."""

    worker: str  # jobs.exporting.worker_pseudonym: stable within the job, nothing more
    label: str
    status: str
    created_at: Any
    seconds_spent: float | None
    worker_gold_accuracy: float | None  # smoothed share right on the job's gold, None without gold
    worker_gold_seen: int
    worker_consensus_accuracy: float | None  # against the latest run's labels


@dataclass(frozen=True)
class ItemDetail:
    item: Item
    run: ConsensusRun | None
    label: str | None
    confidence: float | None
    agreement: float | None
    probabilities: dict[str, float]  # every label of the job, 0 where the run gave none
    judgments: list[JudgmentShown]
    expert: ExpertReview | None
    gold_label: str | None  # the known answer of a gold item
    predictions: tuple[ItemPrediction, ...] = ()  # every model version's, oldest version first

    @property
    def accepted_judgments(self) -> int:
        """What the browser's row counts (judgment_count, or a gold item's answers): the accepted
        ones; `judgments` lists the dropped and withdrawn too."""
        return sum(1 for j in self.judgments if j.status == JudgmentStatus.ACCEPTED)


@dataclass(frozen=True)
class ItemPrediction:
    model_id: int
    name: str
    version: str
    label: str


def item_detail(*, job: Job, item_id: int) -> ItemDetail:
    """An item of `job` (scoped by the caller) with every judgment and the latest posterior."""
    item = Item.objects.filter(job_id=job.pk, pk=item_id).select_related("gold").first()
    if item is None:
        raise NotFound("Item not found.")
    run = latest_run(job=job)
    result = ItemResult.objects.filter(run=run, item=item).first() if run else None
    judgments = list(
        Judgment.objects.filter(item=item).order_by("created_at", "id")
        .values("worker_id", "label", "status", "created_at", "seconds_spent")
    )
    quality = {
        q.worker_id: q for q in job_worker_quality(job_id=job.pk, worker_ids=[j["worker_id"] for j in judgments])
    }
    shown = []
    for row in judgments:
        q = quality.get(row["worker_id"])
        shown.append(JudgmentShown(
            worker=worker_pseudonym(job_id=job.pk, worker_id=row["worker_id"]), label=row["label"],
            status=row["status"], created_at=row["created_at"],
            seconds_spent=None if row["seconds_spent"] is None else float(row["seconds_spent"]),
            worker_gold_accuracy=q.gold.smoothed if q and q.gold.seen else None,
            worker_gold_seen=q.gold.seen if q else 0,
            worker_consensus_accuracy=q.ds_accuracy if q else None,
        ))
    posterior = dict(result.probabilities) if result else {}
    gold = getattr(item, "gold", None) if item.is_gold else None
    return ItemDetail(
        item=item, run=run, label=result.label if result else None,
        confidence=result.confidence if result else None, agreement=result.agreement if result else None,
        probabilities={key: float(posterior.get(key, 0.0)) for key in job.label_keys} if result else {},
        judgments=shown, expert=ExpertReview.objects.filter(item=item).first(),
        gold_label=gold.label if gold else None,
        predictions=tuple(
            ItemPrediction(model_id=p.model_id, name=p.model.name, version=p.model.version, label=p.label)
            for p in Prediction.objects.filter(item=item).select_related("model").order_by("model_id")
        ),
    )
