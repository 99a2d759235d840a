"""Which job a worker gets next: fair serving across organizations, job priority first.

When a worker asks for "any job" (POST work/next/ without a job, a submit with
`"next_from": "any"`, the portal's "Label any job" and its work list), open jobs are tried in
this order:

1. a job where the worker already holds a live lease (asking again returns it: idempotent),
   then one where their closed labeling page returned a lease that still lasts (taken back
   where it may be, labeling/returning.py: a reload keeps the item);
2. higher job priority first: priority always wins over fairness;
3. the organization with the fewest workers busy on its open jobs right now (live leases);
4. within it, the job with the fewest live leases;
5. among equals, at random (claims), or oldest first (the work list, which a person reads).

"Busy right now" is the count of live leases (active and unexpired): the crowd's attention at
this instant, so each organization's open jobs get an equal share of the workers asking for work,
however many items their jobs hold. A job published while the crowd is busy has no live lease:
its organization sorts first at the very next claim of its priority, so it starts within one
think time of the crowd. The counts need no counter to maintain (no hot row every claim would
write): each open job's live leases are one range scan of the partial index `lease_active_job`,
read in the same statement that lists the jobs. Concurrent claims may read the same counts and
pick the same job; they then take different items (SKIP LOCKED), and the next claims see the
new counts, so the shares correct themselves within a claim or two.

A claim for a named job (the labeling page, `"next": true` on its own, POST work/next/ with a
job) keeps to that job: the order above never runs there, and that path costs what it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from marketplace.accounts.models import User
from marketplace.jobs.models import Job, JobStatus
from marketplace.labeling.models import Lease, LeaseStatus

# Open jobs the worker may take items from (not blocked, every requirement met), in serving
# order, with the worker's own live lease in each. `busy`: live leases of each open job, one
# index range scan of lease_active_job per job; `org_busy`: their sum over the organization's
# open jobs, computed before the worker's filters (jobs this worker cannot take count too).
# PostgreSQL and SQLite (3.25+, window functions) alike; random() orders only the ties.
_JOBS_IN_SERVING_ORDER = """
SELECT o.id, o.own_lease_id, o.returned_lease_id FROM (
    SELECT j.id, j.priority, j.busy,
        SUM(j.busy) OVER (PARTITION BY j.organization_id) AS org_busy,
        (SELECT l.id FROM labeling_lease l
         WHERE l.job_id = j.id AND l.worker_id = %(worker)s AND l.status = 'active'
           AND l.expires_at > %(now)s
         ORDER BY l.expires_at DESC LIMIT 1) AS own_lease_id,
        (SELECT l.id FROM labeling_lease l
         WHERE l.job_id = j.id AND l.worker_id = %(worker)s AND l.status = 'returned'
           AND l.expires_at > %(now)s
         LIMIT 1) AS returned_lease_id
    FROM (
        SELECT j.id, j.priority, j.organization_id, (
            SELECT COUNT(*) FROM labeling_lease l
            WHERE l.job_id = j.id AND l.status = 'active' AND l.expires_at > %(now)s
        ) AS busy
        FROM jobs_job j WHERE j.status = 'open'
    ) AS j
) AS o
WHERE NOT EXISTS (
    SELECT 1 FROM labeling_jobblock b WHERE b.job_id = o.id AND b.worker_id = %(worker)s
) AND NOT EXISTS (
    SELECT 1 FROM jobs_jobqualification r
    WHERE r.job_id = o.id AND NOT EXISTS (
        SELECT 1 FROM accounts_workerqualification q
        WHERE q.worker_id = %(worker)s AND q.qualification_id = r.qualification_id
          AND q.score >= r.min_score
    )
)
ORDER BY CASE WHEN o.own_lease_id IS NOT NULL THEN 0 WHEN o.returned_lease_id IS NOT NULL THEN 1 ELSE 2 END,
    o.priority DESC, o.org_busy, o.busy,
    random()
"""


@dataclass(frozen=True)
class Candidate:
    """A job to try for the worker; `own_lease_id`: their live lease in it, if any;
    `returned_lease_id`: one their closed page gave back that still lasts (returning.py)."""

    job_id: int
    own_lease_id: int | None
    returned_lease_id: int | None = None


def jobs_in_serving_order(*, worker: User, now: datetime) -> list[Candidate]:
    """The open jobs the worker may take items from, in the order above (one statement).
    Whether a job still has an item for this worker is left to the claim, which tries them in turn."""
    if not worker.is_worker or worker.suspended_at is not None:
        return []
    connection = transaction.get_connection()
    params = connection.ops.adapt_unknown_value(now)
    with connection.cursor() as cursor:
        cursor.execute(_JOBS_IN_SERVING_ORDER, {"worker": worker.pk, "now": params})
        return [Candidate(job_id=row[0], own_lease_id=row[1], returned_lease_id=row[2]) for row in cursor.fetchall()]


def _live_leases(*, now: datetime, **where: object) -> Coalesce:
    """For a Job queryset: live leases counted over the leases matching `where` (OuterRef-ed)."""
    rows = (
        Lease.objects.filter(status=LeaseStatus.ACTIVE, expires_at__gt=now, **where)
        .order_by().values(*where).annotate(n=Count("*")).values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def jobs_by_serving_order(jobs: QuerySet[Job], *, now: datetime) -> QuerySet[Job]:
    """A Job queryset in the serving order (without step 1), oldest first among equals: the work
    list's order, so a person sees first the jobs the next "any job" claim would favour."""
    return jobs.annotate(
        busy=_live_leases(now=now, job=OuterRef("pk")),
        org_busy=_live_leases(
            now=now, job__organization=OuterRef("organization_id"), job__status=JobStatus.OPEN
        ),
    ).order_by("-priority", "org_busy", "busy", "id")
