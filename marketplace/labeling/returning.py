"""A labeling page's leases across its closing, reloading and second tabs.

Each load of the labeling page makes a random page id and names it in its calls; a lease records
the page it was last handed to (`Lease.page`). The page's beacon on pagehide gives back only the
leases still last handed to it: on a reload (or a second tab) the new page's claim may run before
the old page's beacon lands, and hands the worker's live lease to the new page, which the late
beacon then leaves alone.

A lease given back is `returned`, not released: it holds no slot (another worker may take the
item at once, as after a skip), but while its own time lasts the same worker's next claim in the
job (or the first in the "any job" order) takes it back, when the old page's beacon landed
first. So a reload shows the item the worker was on, not a different one. It is taken back only
where a slot is still free (regular items, under the item's row lock, as every lease is made:
labeling/sql_return.py, which also marks the item full when it takes the last slot) or the job's
gold share allows (gold items), and only where a new claim would be served (the job open, the
worker neither blocked, nor unqualified, nor passed over by a gate); otherwise it stays returned
and, like a skipped item, is never offered to this worker again.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.jobs.models import Item, Job
from marketplace.labeling import gates
from marketplace.labeling.models import Lease, LeaseStatus
from marketplace.labeling.selectors import live_lease_q
from marketplace.labeling.sql_return import lease_take_back

# A labeling page holds at most two live leases (the item on screen and the one after it).
PAGE_LEASES_MAX = 2
# A page id as the page makes it (label_net.js: 32 hex digits); anything of this shape will do.
PAGE_ID_MAX = 64


def page_id_valid(page: str) -> bool:
    return 0 < len(page) <= PAGE_ID_MAX and page.isascii() and all(c.isalnum() or c in "-_" for c in page)


def leases_return(*, worker: User, lease_ids: list[int], page: str) -> list[int]:
    """A labeling page closing (or reloading) gives back the worker's live leases among
    `lease_ids` that were last handed to `page`: they become `returned` (see the module). A lease
    answered, lost, someone else's or since handed to a newer page is left as it is. The ids of
    those returned.

    Both in one transaction, so a claim racing it finds both the page's leases live or both
    returned, and takes back the one that was on screen first either way. Locked, as a skip locks
    a lease: a submit of the same lease, or a new page taking it over (lease_page_take), waits or
    wins."""
    now = timezone.now()
    with transaction.atomic():
        leases = list(
            Lease.objects.select_for_update()
            .filter(pk__in=lease_ids[:PAGE_LEASES_MAX], worker=worker, status=LeaseStatus.ACTIVE, page=page)
            .order_by("pk").values_list("pk", "item_id")
        )
        if not leases:
            return []
        Lease.objects.filter(pk__in=[pk for pk, _ in leases]).update(status=LeaseStatus.RETURNED, finished_at=now)
        # Their slots are free now: the claim's first walks may offer the items again (sql.py, full_until).
        Item.objects.filter(pk__in=[item for _, item in leases], full_until__isnull=False).update(full_until=None)
    return [pk for pk, _ in leases]


def leases_take_back(*, job: Job, worker: User, now: datetime, page: str | None, most: int,
                     leave: int | None = None) -> Lease | None:
    """The claim's first step when job_for_claim found a returned lease of the worker that still
    lasts (in a named job, or the first job of the "any job" order): take back up to `most` of
    them (not `leave`, the lease on the page's screen), oldest first, so a reload shows again the
    item that was on screen and the one fetched after it follows. The first taken back, or None
    when none could be (caller: claim a new item, or refuse as the gates do).

    Never where a fresh claim would be refused: job_for_claim has turned away a closed job, a
    blocked or unqualified worker (and the take-back's statement reads the first two again);
    here the gates (labeling/gates.py) are asked first, so a worker a dynamic job passes over
    does not get its item back either. Caller holds the claim's transaction."""
    returned = list(
        Lease.objects.filter(worker=worker, job_id=job.pk, status=LeaseStatus.RETURNED, expires_at__gt=now)
        .exclude(pk=leave)
        .select_related("item")
        .order_by("pk")[:most]
    )
    if not returned or not gates.worker_served(job=job, worker_id=worker.pk):
        return None
    taken = [lease for lease in returned if _take_back(lease=lease, job=job, now=now, page=page)]
    if not taken:
        return None
    first = taken[0]
    first.job = job
    first.status, first.finished_at, first.page = LeaseStatus.ACTIVE, None, page
    return first


def _take_back(*, lease: Lease, job: Job, now: datetime, page: str | None) -> bool:
    # Gold takes no lock and no slot, but counts against the job's gold share while active.
    if lease.item.is_gold and not gates.gold_share_left(job):
        return False
    return lease_take_back(lease_id=lease.pk, item_id=lease.item_id, gold=lease.item.is_gold, now=now,
                           page=page, overlap=job.overlap)


def lease_page_take(*, lease: Lease, page: str | None, now: datetime) -> bool:
    """A live lease the worker holds is handed to another page (a reload or a second tab): it is
    that page's now, and only that page's beacon gives it back. No write when it is already (or
    an API client asks). False when the old page's beacon returned it a moment ago (the write is
    a compare-and-set on its still being live): the caller takes it back as returned instead."""
    if page is None or lease.page == page:
        return True
    if not Lease.objects.filter(live_lease_q(now=now), pk=lease.pk).update(page=page):
        return False
    lease.page = page
    return True
