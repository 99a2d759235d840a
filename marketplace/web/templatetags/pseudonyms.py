"""Workers as clients see them: under the per-job pseudonym of the exports, the data browser and
the job's worker list (jobs.exporting.worker_pseudonym), never by username."""

from __future__ import annotations

from django import template

from marketplace.jobs.exporting import worker_pseudonym

register = template.Library()


@register.filter
def pseudonym_in_job(worker_id: int, job_id: int) -> str:
    """{{ appeal.worker_id|pseudonym_in_job:appeal.job_id }} → "w02e622cd342e"."""
    return worker_pseudonym(job_id=job_id, worker_id=worker_id)
