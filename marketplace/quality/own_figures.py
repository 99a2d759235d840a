"""The counts a worker reads of themselves in a job that hides gold feedback: an hour late, in steps.

Such a job keeps its check items secret (quality_rules.gold_feedback off: the labeling page never
says an answer was a check item, nor whether it was right). Live counts would say it anyway: an
answer that moves the gold count was a check item, one that moves the answer count (regular
answers only) was not, and one that moves the count right was right. Within QUORUM_UNDO_SECONDS
a worker could even undo a missed check item and try the next label until it counts right, and
colluders could pass the check items and their answers around.

So there the stats row's counts (gold, label decisions, regular answers) take in only answers
given before a cutoff: the latest multiple of QUORUM_GOLD_FIGURES_LAG_SECONDS (since the epoch)
at least that long ago. It moves once a period and each step adds a whole period's answers at
once, so watching the page never ties a change to one answer. (A cutoff sliding with the clock,
"answers more than an hour old", would: each answer would show up alone, an hour late.) Every
counted answer is past undoing: the lag is never shorter than the undo window.

The row's other figures tell the same time: agreement with the consensus and the median answer
time take in only the answers before the cutoff too (a regular answer on an item a consensus run
labelled moved "over N answers" live). Its status (ok, flagged, blocked) is now, and says so.

The work list's "items left" of such a job waits for the same cutoff (quality/progress.py: the
job's completed items as recorded at the cutoff's step). Live, it drops when a regular answer
completes an item and never for a check item (check items are not among the job's items to do),
so in a quiet job a worker who submits and reloads the list learns what the answer was. It drops
at the step, with the rest of that hour's, whoever answered (so two workers cannot do the watching
for each other). A worker needs to know whether there is work for them, and the list answers that
live (a job with nothing left for them is not on it); how much is left, an hour late, is plenty to
choose by. Clients and staff read live counts.

Only what the worker is shown. The rules (the gold block, the fast flag) and what admins and
clients read stay live: quality enforcement is not delayed. Jobs with gold feedback on stay live
too: their worker is told about each missed check item anyway.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from marketplace.jobs.models import Job
from marketplace.labeling.models import Judgment, JudgmentStatus
from marketplace.quality import gold_multi
from marketplace.quality.rules import rules_for


def lag_seconds() -> int:
    """The period of the cutoff; never under the undo window (settings checks it at start-up;
    this holds under a test's override too)."""
    return max(settings.QUORUM_GOLD_FIGURES_LAG_SECONDS, settings.QUORUM_UNDO_SECONDS, 1)


def step_at(now: datetime) -> datetime:
    """The step `now` is in: the latest multiple of the lag (since the epoch) at or before it.
    The one place the steps are defined: the cutoff is the step before (counted_before), and
    quality/progress.py records the work list's counts once per step."""
    lag = lag_seconds()
    return datetime.fromtimestamp(int(now.timestamp()) // lag * lag, tz=UTC)


def counted_before(now: datetime | None = None) -> datetime:
    """Answers given before this instant count in the figures of a job that hides gold feedback:
    the latest multiple of the lag that is at least the lag ago (the step before now's)."""
    return step_at(now or timezone.now()) - timedelta(seconds=lag_seconds())


def jobs_hiding_gold(*, jobs: QuerySet[Job], also: tuple[str, ...] = ()) -> list[Job]:
    """The jobs of this queryset whose quality rules hide gold feedback (one query). Each is loaded
    with only what rules_for reads and the fields in `also`: pass Job._base_manager's queryset, as
    the default manager's tally sums are not needed either."""
    loaded = jobs.only("id", "tier", "quality_rules", "rules_at_publish", *also)
    return [job for job in loaded if not rules_for(job=job).gold_feedback]


def rows_as_shown(*, rows: list[dict[str, Any]], worker_id: int) -> dict[int, datetime]:
    """Take out of the worker's stats rows (`job_id`, gold_seen, gold_correct, judgments and
    gold_multi.STATS_FIELDS; changed in place) what their answers since the cutoff added, in the
    jobs that hide gold feedback. Returns those jobs' ids, each with the cutoff. Two queries.

    What an answer added: a regular one, 1 to `judgments`; a scored check item (is_correct set),
    1 to gold_seen, its rightness to gold_correct and its label decisions to the multi-label
    counts. An undone answer took its part out already; a dropped one keeps it, as does a
    rescored one with its rescored rightness (quality/appeals.py). An unblock restarts the gold
    counts (quality/services.py: worker_unblock): when check items answered before it are since
    the cutoff, so is every one after it, and the counts clamp at zero, where they belong.
    """
    in_rows = Job._base_manager.filter(pk__in=[row["job_id"] for row in rows])  # no counts: not needed
    hiding = {job.pk: job for job in jobs_hiding_gold(jobs=in_rows, also=("labels",))}
    if not hiding:
        return {}
    cutoff = counted_before()
    since = (
        Judgment.objects.filter(worker_id=worker_id, job_id__in=list(hiding), created_at__gte=cutoff)
        .exclude(status=JudgmentStatus.WITHDRAWN)
        .values_list("job_id", "is_gold", "is_correct", "labels", "item__gold__labels")
    )
    regular: dict[int, int] = defaultdict(int)
    scored: dict[int, list[tuple[bool, list[str] | None, list[str] | None]]] = defaultdict(list)
    for job_id, is_gold, is_correct, labels, gold_labels in since:
        if not is_gold:
            regular[job_id] += 1
        elif is_correct is not None:
            scored[job_id].append((is_correct, labels, gold_labels))
    for row in rows:
        job = hiding.get(row["job_id"])
        if job is None:
            continue
        answers = scored[job.pk]
        _take_off(row, "judgments", regular[job.pk])
        _take_off(row, "gold_seen", len(answers))
        _take_off(row, "gold_correct", sum(right for right, _, _ in answers))
        row["gold_correct"] = min(row["gold_correct"], row["gold_seen"])
        decided = gold_multi.decisions_balance([(labels, gold) for _, labels, gold in answers], job.label_keys)
        for field, key in (("gold_labels_seen", "seen"), ("gold_labels_right", "right"),
                           ("gold_pos_seen", "pos_seen"), ("gold_pos_right", "pos_right")):
            _take_off(row, field, decided[key])
    return dict.fromkeys(hiding, cutoff)


def since_cutoff(cutoffs: Mapping[int, datetime]) -> Q:
    """Judgments given at or after their job's cutoff, for the jobs in `cutoffs` (rows_as_shown's);
    an empty Q (excludes nothing) for none. The rest of such a row, agreement and answer time, is
    read without them, so the row tells one time (quality/selectors.py)."""
    since = Q()
    for job_id, cutoff in cutoffs.items():
        since |= Q(job_id=job_id, created_at__gte=cutoff)
    return since


def _take_off(row: dict[str, Any], field: str, amount: int) -> None:
    """Clamped at zero: a count restarted or clamped since (an unblock, an old row) may hold less."""
    row[field] = max(row[field] - amount, 0)
