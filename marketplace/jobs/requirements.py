"""Who can take a job gated on qualifications, and a job's gold as exam material.

`job_reach_check` runs before a job is published: a requirement nobody meets and nobody can earn
(no holder at the minimum score, no exam) would publish a job no worker ever sees, so it is
refused; one with an exam but no holder yet only warns (workers must pass the exam first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketplace.accounts.models import User
from marketplace.accounts.selectors import qualification_reach
from marketplace.errors import ApplicationError
from marketplace.jobs.models import GoldAnswer, Job, JobQualification
from marketplace.jobs.selectors import job_get_for_owner

MAX_GOLD_COPIED = 500  # = one all-or-nothing add of exam questions


@dataclass(frozen=True)
class RequirementReach:
    qualification_id: int
    name: str
    holders: int  # workers holding it, at or above the job's minimum score
    has_exam: bool


def job_reach(*, job: Job) -> list[RequirementReach]:
    requirements = list(JobQualification.objects.filter(job=job).select_related("qualification"))
    out = []
    for requirement in requirements:  # one or two per job; each reach is three small queries
        reach = qualification_reach(qualification_ids=[requirement.qualification_id],
                                    min_score=requirement.min_score)[requirement.qualification_id]
        out.append(RequirementReach(qualification_id=requirement.qualification_id,
                                    name=requirement.qualification.name, holders=reach.qualified,
                                    has_exam=reach.has_exam))
    return out


def job_reach_check(*, job: Job) -> list[str]:
    """Refuse a job no worker could ever take; return warnings for one only exam-passers can."""
    warnings = []
    for reach in job_reach(job=job):
        if reach.holders == 0 and not reach.has_exam:
            raise ApplicationError(
                f"No worker holds “{reach.name}” at the required score and it has no exam, so no one "
                "could ever label this job. Add an exam to the qualification or choose another."
            )
        if reach.holders == 0:
            warnings.append(
                f"No worker holds “{reach.name}” yet: the job starts once workers pass its exam."
            )
    return warnings


def job_gold_as_questions(*, user: User, job_id: int) -> tuple[Job, list[dict[str, Any]]]:
    """The gold items of a job the user owns as {"data", "answer", "explanation"} rows (the gold
    label becomes the answer), oldest first, at most MAX_GOLD_COPIED."""
    job = job_get_for_owner(user=user, job_id=job_id)
    rows = (
        GoldAnswer.objects.filter(item__job=job).select_related("item")
        .order_by("item_id")[:MAX_GOLD_COPIED + 1]
    )
    out = [{"data": gold.item.data if isinstance(gold.item.data, dict) else {"value": gold.item.data},
            "answer": gold.label, "explanation": gold.explanation} for gold in rows]
    if len(out) > MAX_GOLD_COPIED:
        raise ApplicationError(f"This job has over {MAX_GOLD_COPIED} gold items; upload a file instead.")
    if not out:
        raise ApplicationError("This job has no gold items to copy.")
    return job, out
