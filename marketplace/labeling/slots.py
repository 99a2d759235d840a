"""Who holds an item's slots at submit time: a late submit's slot, and settling below the minimum.

A late submit (its lease expired) keeps its judgment only if a slot was still free
(`slot_was_free`). Dynamic overlap below the minimum: an item a trusted model predicted may
settle early. The submit asks dynamic overlap's rule (the flow's `more_wanted`, quality/overlap.py) once an
item has its minimum of human judgments. Below the minimum it asks only where the rule could say
"settled": the item carries a model's prediction (the rule counts a trusted model's vote towards
the minimum, never in place of the first person), and no other worker holds the item now, since
completing it would take their slot from under them (their answer would be refused as lost).
Everything else about the item is the submit's: its row lock (taken by the count) and the tally.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marketplace.jobs.models import Item, Prediction
from marketplace.labeling import sql
from marketplace.labeling.models import Lease
from marketplace.labeling.selectors import live_lease_q


def slot_was_free(*, lease: Lease, judgments_before: int, extra: int, now: datetime) -> bool:
    """A late submit, counted already under the item lock: keep it only if a slot was free.

    Free means the judgments before ours plus the *other* live leases left room. If not, the
    count is undone (we still hold the lock, so nothing else moved) and the lease is lost.
    """
    others = Lease.objects.filter(live_lease_q(now=now), item_id=lease.item_id).exclude(pk=lease.pk).count()
    if judgments_before + others < lease.job_overlap + extra:
        return True
    sql.run("item_uncount", item=lease.item_id)
    return False


def settle_early_askable(*, lease: Lease, counted: tuple[Any, ...], now: datetime) -> bool:
    """True when the item just counted (judgments, complete, extra) is below its minimum in a
    dynamic job and may be asked whether a model's vote settles it (module docstring): two small
    indexed reads at most, and only for dynamic jobs' items below their minimum."""
    judgments, complete, extra = counted
    if complete or getattr(lease, "job_max_overlap", None) is None or extra or judgments >= lease.job_overlap:
        return False  # fixed overlap, the rule's usual turn, or more judgments a client asked for
    if not Prediction.objects.filter(item_id=lease.item_id).exists():
        return False
    return not Lease.objects.filter(live_lease_q(now=now), item_id=lease.item_id).exclude(pk=lease.pk).exists()


def item_settle(*, item_id: int) -> None:
    """Complete the item below its minimum. The caller holds its row lock (the submit's count)."""
    Item.objects.filter(pk=item_id).update(is_complete=True)
