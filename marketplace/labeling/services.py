"""Labeling writes: claim (next item), release (skip) and submit, re-exported from their modules.

`grep lease_` / `grep judgment_` shows every action on leases and judgments.
"""

from marketplace.labeling.claiming import lease_claim, lease_release
from marketplace.labeling.submitting import (
    LeaseLost,
    MoreWanted,
    Submission,
    judgment_submit,
    judgment_submit_outcome,
    lease_mark_lost,
    seconds_clean,
)

__all__ = [
    "LeaseLost",
    "MoreWanted",
    "Submission",
    "judgment_submit",
    "judgment_submit_outcome",
    "lease_claim",
    "lease_mark_lost",
    "lease_release",
    "seconds_clean",
]
