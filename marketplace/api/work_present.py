"""What the worker API answers, built as explicit dicts (api/work.py's views call these).

Nothing the worker must not see (external_id, is_gold, gold answers, is_correct, other workers,
the item's id) can leak through a serializer's defaults: every key is written here. A gold
item's lease has exactly the shape of any other lease.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from marketplace.jobs.fields import item_data_for_workers
from marketplace.jobs.models import Job
from marketplace.labeling.models import Judgment, Lease
from marketplace.labeling.prelabels import lease_prelabel


def _labels(job: Job) -> list[dict[str, str]]:
    return [
        {"key": c["key"], "name": c.get("name") or c["key"], "shortcut": c.get("shortcut") or ""}
        for c in job.labels
    ]


def _multi(job: Job) -> dict[str, Any]:
    """`multi_label: true` on a multi-label job; nothing on others (their shape as before)."""
    return {"multi_label": True} if job.multi_label else {}


def present_work_job(job: Job) -> dict[str, Any]:
    return {
        "id": job.pk,
        "title": job.title,
        "instructions_html": job.instructions_html,  # rendered when saved
        "labels": _labels(job),
        **_multi(job),
        "reward_per_judgment": str(job.reward_per_judgment),
        "lease_seconds": job.lease_seconds,
    }


def present_lease(lease: Lease) -> dict[str, Any]:
    """The same shape for every lease; the item is its data only (a gold one looks the same)."""
    job, item = lease.job, lease.item
    body: dict[str, Any] = {
        "lease": lease.pk,
        "status": lease.status,
        "expires_at": serializers.DateTimeField().to_representation(lease.expires_at),
        "job": {
            "id": job.pk,
            "title": job.title,
            "labels": _labels(job),
            **_multi(job),
            "instructions_html": job.instructions_html,
        },
        # Only the fields the client chose to show (Job.worker_fields); metadata stays behind.
        "item": {"data": item_data_for_workers(item.data, job.worker_fields)},
    }
    suggested = lease_prelabel(lease=lease)  # None unless the job shows pre-labels
    if suggested is not None:
        body["suggestion"] = {"key": suggested, "name": _label_name(job, suggested)}
    return body


def _label_name(job: Job, key: str) -> str:
    return next((c.get("name") or key for c in job.labels if c["key"] == key), key)


def present_judgment(judgment: Judgment) -> dict[str, Any]:
    return {
        "id": judgment.pk,
        "job": judgment.job_id,
        "lease": judgment.lease_id,
        "label": judgment.label,
        **labels_of(judgment),
        "seconds_spent": None if judgment.seconds_spent is None else str(judgment.seconds_spent),
        "submitted_at": serializers.DateTimeField().to_representation(judgment.created_at),
    }


def labels_of(judgment: Judgment) -> dict[str, Any]:
    """`labels` for a multi-label judgment; nothing for a single-label one (its shape as before)."""
    return {} if judgment.labels is None else {"labels": judgment.labels}
