"""Labeling writes: claim (next item), release (skip), return (a closed page), submit and undo, re-exported from
their modules.

`grep lease_` / `grep judgment_` shows every action on leases and judgments.
"""

from marketplace.labeling.claiming import (
    ClaimAborted,
    NextClaim,
    NextLease,
    lease_claim,
    lease_claim_last,
    lease_release,
    leases_extend,
    lease_mark_lost,
)
from marketplace.labeling.returning import PAGE_LEASES_MAX, leases_return, page_id_valid
from marketplace.labeling.relabeling import DropResult, judgments_drop, leases_end_for_worker
from marketplace.labeling.submitting import (
    LeaseLost,
    MoreWanted,
    Submission,
    judgment_submit,
    judgment_submit_outcome,
)
from marketplace.labeling.seconds import seconds_clean
from marketplace.labeling.undoing import Withdrawal, judgment_withdraw

__all__ = [
    "PAGE_LEASES_MAX",
    "ClaimAborted",
    "NextClaim",
    "NextLease",
    "DropResult",
    "LeaseLost",
    "MoreWanted",
    "Submission",
    "Withdrawal",
    "judgment_submit",
    "judgment_submit_outcome",
    "judgment_withdraw",
    "judgments_drop",
    "lease_claim",
    "lease_claim_last",
    "lease_mark_lost",
    "lease_release",
    "leases_end_for_worker",
    "leases_extend",
    "leases_return",
    "page_id_valid",
    "seconds_clean",
]
