"""Collusion flags: written by each consensus run of a job, reviewed by admins.

The statistics are pure (consensus/collusion.py); this module runs both scans on a run's fit
and the job's judgment times, and keeps one CollusionFlag per flagged pair with its figures.
No flag changes anything for a worker: an admin dismisses or confirms it, and blocking stays
the separate, deliberate action on the worker's staff page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.consensus import ConsensusResult, Votes
from marketplace.consensus.types import IdArray
from marketplace.consensus.collusion import (
    DEFAULT_AGREEMENT_TOLERANCE,
    DEFAULT_ALPHA,
    DEFAULT_TIMING_WINDOW,
    PairTest,
    Scan,
    agreement_scan,
    collusion_groups,
    paired_workers,
    timing_scan,
)
from marketplace.errors import ApplicationError, Conflict
from marketplace.quality.models import CollusionFlag
from marketplace.quality.reading import judgment_times

logger = logging.getLogger(__name__)

NOTE_MAX = 2000
DECISIONS = {"dismiss": CollusionFlag.Status.DISMISSED, "confirm": CollusionFlag.Status.CONFIRMED}


def _figures(test: PairTest, scan: Scan) -> dict[str, Any]:
    return {
        "shared": test.shared, "observed": test.observed, "expected": round(test.expected, 2),
        "observed_rate": round(test.observed_rate, 4), "expected_rate": round(test.expected_rate, 4),
        "p_value": test.p_value, "adjusted": test.adjusted, "pairs_tested": scan.pairs_tested,
    }


def collusion_flags_refresh(
    *, job_id: int, run_id: int, gold_items: Iterable[int], result: ConsensusResult | None = None,
    votes: Votes | None = None, per_label: Mapping[str, tuple[ConsensusResult, Votes]] | None = None,
) -> list[CollusionFlag]:
    """Scan the job's pairs on this run's fit and rewrite its flags. Called once the run's
    results have committed (quality/runs.py), in a transaction of its own.

    A multi-label run gives `per_label` (each label's yes/no fit and crowd) for `result` and
    `votes`: agreement is scanned label by label, at alpha over the number of labels
    (Bonferroni across labels too), and a pair's agreement figures are its most significant
    label's, named in them (`label`, `labels_tested`). Timing needs no labels.

    Flags are rows per (job, pair): one the scans find again gets the new figures and keeps its
    review status; an OPEN one they no longer find is deleted (the latest run is the evidence);
    a reviewed one stays, its verdict on record.
    """
    gold_items = list(gold_items)
    crowds = dict(per_label) if per_label is not None else {"": (result, votes)}
    scale = len(crowds) if per_label is not None else 1  # labels tested: Bonferroni across them
    # Only workers who share enough items with someone can be in a tested pair: both scans see
    # just their judgments (every one of each, so the figures are the same). On a sparse crowd
    # that is nobody, and a million judgments cost one pass over their ids.
    basis = max((crowd for _, crowd in crowds.values() if crowd is not None), key=len, default=None)
    candidates = None if basis is None else paired_workers(basis.items, basis.workers)
    masks: dict[int, npt.NDArray[np.bool_]] = {}
    scans: list[tuple[str, str, Scan]] = [
        ("agreement", label, agreement_scan(_of_workers(crowd, candidates, masks), fit, gold_items=gold_items,
                                            alpha=DEFAULT_ALPHA / scale))
        for label, (fit, crowd) in crowds.items() if fit is not None and crowd is not None
    ]
    times = judgment_times(job_id=job_id, workers=candidates)
    scans.append(("timing", "", timing_scan(times.items, times.workers, times.claimed, times.submitted)))
    found: dict[tuple[int, int], dict[str, Any]] = {}
    for kind, label, scan in scans:
        k = scale if kind == "agreement" else 1
        for test in scan.flagged:
            pair = (int(test.worker_a), int(test.worker_b))
            entry = found.setdefault(pair, {"p_value": 1.0, "evidence": {"run": run_id}, "by": set()})
            adjusted = min(test.adjusted * k, 1.0)
            if kind not in entry["evidence"] or adjusted < entry["evidence"][kind]["adjusted"]:
                entry["evidence"][kind] = {**_figures(test, scan), "flagged": True, "adjusted": adjusted,
                                           **_label_of(label, k)}
            entry["by"].add(kind)
            entry["p_value"] = min(entry["p_value"], adjusted)
    # Both scans' figures for every flagged pair, even from the scan that did not flag it.
    for pair, entry in found.items():
        for kind, label, scan in scans:
            k = scale if kind == "agreement" else 1
            other = scan.pair(*pair) if kind not in entry["by"] else None
            if other is not None and (kind not in entry["evidence"]
                                      or other.adjusted * k < entry["evidence"][kind]["adjusted"]):
                entry["evidence"][kind] = {**_figures(other, scan), "flagged": False,
                                           "adjusted": min(other.adjusted * k, 1.0), **_label_of(label, k)}
    entry_settings = {"alpha": DEFAULT_ALPHA, "agreement_tolerance": DEFAULT_AGREEMENT_TOLERANCE,
                      "timing_window_seconds": DEFAULT_TIMING_WINDOW}
    existing = {(f.worker_a_id, f.worker_b_id): f for f in CollusionFlag.objects.filter(job_id=job_id)}
    stale = [f.pk for pair, f in existing.items() if pair not in found and f.status == CollusionFlag.Status.OPEN]
    CollusionFlag.objects.filter(pk__in=stale).delete()
    kept = []
    for (a, b), entry in sorted(found.items()):
        evidence = {**entry["evidence"], "settings": entry_settings}
        fields = {
            "run_id": run_id, "p_value": entry["p_value"], "evidence": evidence,
            "by_agreement": "agreement" in entry["by"], "by_timing": "timing" in entry["by"],
        }
        flag, _ = CollusionFlag.objects.update_or_create(job_id=job_id, worker_a_id=a, worker_b_id=b,
                                                         defaults=fields)
        kept.append(flag)
    return kept


def _of_workers(votes: Votes, workers: IdArray | None, masks: dict[int, npt.NDArray[np.bool_]]) -> Votes:
    """The votes of `workers` only (all of them when None). `masks` holds the mask of each voters
    array seen, by identity: a multi-label run's yes/no crowds share one (binary_crowds), so one
    np.isin over a million votes serves every label."""
    if workers is None:
        return votes
    keep = masks.get(id(votes.workers))
    if keep is None:  # (the crowds outlive `masks`, so no id is reused meanwhile)
        keep = masks[id(votes.workers)] = np.isin(votes.workers, workers)
    return Votes(items=votes.items[keep], workers=votes.workers[keep], codes=votes.codes[keep],
                 label_set=votes.label_set)


def _label_of(label: str, labels_tested: int) -> dict[str, Any]:
    """A multi-label scan's label in a pair's figures; nothing for a single-label job's."""
    return {"label": label, "labels_tested": labels_tested} if label else {}


def collusion_flags_refresh_safely(**kwargs: Any) -> None:
    """`collusion_flags_refresh` in a savepoint: a scan that fails is logged and leaves the run
    (and the job's earlier flags) as they were, rather than failing the consensus run."""
    try:
        with transaction.atomic():
            collusion_flags_refresh(**kwargs)
    except Exception:
        logger.exception("collusion scan of job %s (run %s) failed", kwargs.get("job_id"), kwargs.get("run_id"))


@transaction.atomic
def collusion_flag_review(*, flag_id: int, actor: User, decision: str, note: str = "") -> CollusionFlag:
    """An admin's verdict on an open flag: "dismiss" or "confirm". Confirming records the
    verdict only; it blocks nobody (the admin blocks from the worker's page if they decide to).
    A flag someone else reviewed meanwhile raises Conflict."""
    status = DECISIONS.get(decision)
    if status is None:
        raise ApplicationError("Choose dismiss or confirm.")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ApplicationError(f"The note is at most {NOTE_MAX} characters.")
    # Compare-and-set on the status: two admins reviewing at once, one verdict wins.
    updated = CollusionFlag.objects.filter(pk=flag_id, status=CollusionFlag.Status.OPEN).update(
        status=status, reviewed_by=actor, reviewed_at=timezone.now(), review_note=note,
        updated_at=timezone.now(),
    )
    flag = CollusionFlag.objects.filter(pk=flag_id).first()
    if flag is None:
        raise ApplicationError("No such flag; a newer consensus run may have cleared it.")
    if not updated:
        raise Conflict(f"This flag was already {flag.get_status_display().lower()}.")
    return flag


# --- Reads (the staff page) ------------------------------------------------------------------

STATUS_FILTERS = ("open", "confirmed", "dismissed", "all")


def collusion_flags_listed(*, status: str = "open") -> QuerySet[CollusionFlag]:
    flags = CollusionFlag.objects.select_related("job", "worker_a", "worker_b", "reviewed_by")
    if status != "all":
        flags = flags.filter(status=status if status in STATUS_FILTERS else CollusionFlag.Status.OPEN)
    return flags.order_by("p_value", "-updated_at", "id")


@dataclass(frozen=True)
class CollusionGroup:
    job_id: int
    job_title: str
    workers: list[User]
    flags: int  # flagged pairs inside the group


def collusion_groups_listed(flags: Iterable[CollusionFlag]) -> list[CollusionGroup]:
    """Connected components of the flagged pairs, per job, of the flags given."""
    by_job: dict[int, list[CollusionFlag]] = {}
    for flag in flags:
        by_job.setdefault(flag.job_id, []).append(flag)
    groups = []
    for job_id, job_flags in by_job.items():
        users = {u.pk: u for f in job_flags for u in (f.worker_a, f.worker_b)}
        for members in collusion_groups((f.worker_a_id, f.worker_b_id) for f in job_flags):
            inside = set(members)
            groups.append(CollusionGroup(
                job_id=job_id, job_title=job_flags[0].job.title, workers=[users[m] for m in members],  # type: ignore[index]
                flags=sum(f.worker_a_id in inside and f.worker_b_id in inside for f in job_flags),
            ))
    return sorted(groups, key=lambda g: (-len(g.workers), g.job_id))
