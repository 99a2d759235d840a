"""Pre-labels: a model's label shown to the worker as a suggestion, in jobs that ask for it.

Off by default (Job.prelabel_model is null), and then nothing here reads a prediction: workers
never see a model's answer. When on, the lease's item comes with the chosen model version's label
(if it predicted the item; gold items too, so gold still looks like any item) and the pair
(item, worker) is recorded in jobs.PrelabelShown, so every judgment made with a suggestion on
screen is known to the quality figures (anchoring).
"""

from __future__ import annotations

from django.utils import timezone

from marketplace.jobs.models import Prediction, PrelabelShown
from marketplace.labeling.models import Lease


def lease_prelabel(*, lease: Lease) -> str | None:
    """The label key to suggest with the lease's item, recorded as shown; None when the job shows
    no pre-labels or its model did not predict the item. Idempotent: a page reload or a
    prefetched lease writes the same row (the suggestion last shown wins)."""
    model_id = lease.job.prelabel_model_id
    if model_id is None:
        return None
    label = (
        Prediction.objects.filter(item_id=lease.item_id, model_id=model_id)
        .values_list("label", flat=True)
        .first()
    )
    if label is None or label not in lease.job.label_keys:
        return None
    PrelabelShown.objects.bulk_create(
        [PrelabelShown(job_id=lease.job_id, item_id=lease.item_id, worker_id=lease.worker_id,
                       label=label, shown_at=timezone.now())],
        update_conflicts=True, unique_fields=["item", "worker"], update_fields=["label", "shown_at"],
    )
    return label
