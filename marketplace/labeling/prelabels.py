"""Pre-labels: a model's label shown to the worker as a suggestion, in jobs that ask for it.

Off by default (Job.prelabel_model is null), and then nothing here reads a prediction: workers
never see a model's answer. When on, the lease's item comes with the chosen model version's label
(if it predicted the item; gold items too, so gold still looks like any item) and the pair
(item, worker) is recorded in jobs.PrelabelShown, so every judgment made with a suggestion on
screen is known to the quality figures (anchoring).

A control group: a share of the pairs (QUORUM_PRELABEL_BLIND_SHARE, 10 % by default) get no
suggestion, recorded as blind. Which pairs is a hash of (item, worker), not a random draw, so a
reload, a new lease of the same item or a replay of the job gives the same answer, and the
choice cannot follow the worker's answers. Their judgments measure the model without anchoring.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.utils import timezone

from marketplace.jobs.models import Prediction, PrelabelShown
from marketplace.labeling.models import Lease


def prelabel_blind(*, item_id: int, worker_id: int, share: float) -> bool:
    """True when the pair falls in the control group: a uniform draw in [0, 1) from a hash of the
    pair, below `share` (0: nobody, 1: everybody)."""
    digest = hashlib.blake2b(f"prelabel-blind:{item_id}:{worker_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < share


def lease_prelabel(*, lease: Lease) -> str | None:
    """The label key to suggest with the lease's item, recorded as shown; None when the job shows
    no pre-labels, its model did not predict the item, or the pair is in the control group (then
    recorded as blind). Idempotent: a page reload or a prefetched lease writes the same row (the
    suggestion last shown wins; a pair once shown is never recorded blind again)."""
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
    blind = prelabel_blind(item_id=lease.item_id, worker_id=lease.worker_id,
                           share=float(settings.QUORUM_PRELABEL_BLIND_SHARE))
    row = PrelabelShown(job_id=lease.job_id, item_id=lease.item_id, worker_id=lease.worker_id,
                        label=label, shown_at=timezone.now(), blind=blind)
    if blind:  # a pair already shown stays shown: what the worker saw cannot be unseen
        PrelabelShown.objects.bulk_create([row], ignore_conflicts=True)
        return None
    PrelabelShown.objects.bulk_create(
        [row], update_conflicts=True, unique_fields=["item", "worker"],
        update_fields=["label", "shown_at", "blind"],
    )
    return label
