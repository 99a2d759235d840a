"""Consensus runs and their per-item and per-worker results.

A run is immutable once finished; exports read the latest succeeded run of a job. Probabilities
are floats (they are estimates, not money).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from marketplace.jobs.models import Item, Job
from marketplace.limits import MAX_REASON_CHARS


class ConsensusRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "On demand"
        COMPLETION = "completion", "Job completed"
        PERIODIC = "periodic", "While the job runs"
        REPLAY = "replay", "Replay of a data set"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="consensus_runs")
    method = models.CharField(max_length=20)
    parameters = models.JSONField(default=dict)
    trigger = models.CharField(max_length=12, choices=Trigger.choices, default=Trigger.MANUAL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()  # claimed (it may wait in a queue before it executes)
    # Written by the executing process every QUORUM_CONSENSUS_HEARTBEAT_SECONDS (database clock);
    # null until execution starts. A stale beat means the process died (quality/heartbeat.py).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)  # wall time: read + fit + write
    fit_seconds = models.FloatField(null=True, blank=True)  # the aggregation alone
    judgments = models.PositiveIntegerField(default=0)
    items = models.PositiveIntegerField(default=0)
    workers = models.PositiveIntegerField(default=0)
    gold_items = models.PositiveIntegerField(default=0)
    rounds = models.PositiveIntegerField(default=0)
    converged = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["job", "status", "-id"], name="run_job_latest"),
            # The sweep looks for dead runs among the few running ones, every minute.
            models.Index(
                fields=["heartbeat_at"], condition=models.Q(status="running"), name="run_running_beat"
            ),
        ]


class ItemResult(models.Model):
    # No index of its own: the unique (run, item) constraint's index serves every run lookup.
    run = models.ForeignKey(ConsensusRun, on_delete=models.CASCADE, related_name="item_results", db_index=False)
    # No database constraint: PostgreSQL checks one by one at COMMIT, locking each item row (2-3 s
    # for a run of 200,000 items, and a lock beside every submit's on those rows). The run stands in
    # for it under a lock (quality/writing.py, item_results_anchor); Django still cascades deletes.
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="consensus_results", db_constraint=False)
    label = models.CharField(max_length=64)
    confidence = models.FloatField()
    probabilities = models.JSONField()  # {label: probability}
    judgments = models.PositiveSmallIntegerField(default=0)
    # Share of the item's judgments that gave the consensus label (0..1), written with the run so
    # the data browser filters on disagreement without reading judgments; null on older runs.
    agreement = models.FloatField(null=True, blank=True)
    # Gold items only: the label consensus gives the item from its judgments without being told
    # its answer (`label` there is the answer itself, by construction: consensus/aggregate.py).
    # What the job page measures the delivered labels by on gold; "" for other items, older runs
    # (a database default too: bulk COPY writers that leave the column out stay valid).
    label_without_answer = models.CharField(max_length=64, blank=True, default="", db_default="")
    # The same for a multi-label job's gold items, whose answer is a set (too long for a label
    # column): {label: P(it applies)} without the answer, encoded as `probabilities` is (the set
    # is the labels at 0.5 or more: runs_multi.label_set_of). Null elsewhere and on older runs.
    probabilities_without_answer = models.JSONField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "item"], name="one_result_per_run_item")]
        indexes = [
            # The data browser's walks of one run: by confidence (sort and range), by label.
            models.Index(fields=["run", "confidence", "item"], name="item_result_confidence"),
            models.Index(fields=["run", "label", "item"], name="item_result_label"),
        ]


class WorkerResult(models.Model):
    run = models.ForeignKey(ConsensusRun, on_delete=models.CASCADE, related_name="worker_results")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    accuracy = models.FloatField()
    confusion = models.JSONField()  # rows = true label, columns = answered label, in run label order
    judgments = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "worker"], name="one_result_per_run_worker")]


class WorkerJobStats(models.Model):
    """Running gold score and volume of one worker on one job (F() counters, one row per pair)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="worker_stats")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="job_stats")
    gold_seen = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    judgments = models.PositiveIntegerField(default=0)  # regular (non-gold) judgments
    # Multi-label jobs only (0 elsewhere): their gold answers scored per label, each label of the
    # job one yes/no decision; gold_pos_* are the decisions on labels gold ticked, so the gold rule
    # reads balanced accuracy there (scoring.balanced_smoothed). gold_seen/gold_correct above keep
    # the answers and the exact-set matches (README "Multi-label jobs").
    gold_labels_seen = models.PositiveIntegerField(default=0)
    gold_labels_right = models.PositiveIntegerField(default=0)
    gold_pos_seen = models.PositiveIntegerField(default=0)
    gold_pos_right = models.PositiveIntegerField(default=0)
    flagged_fast_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "worker"], name="one_stats_row_per_job_worker"),
            models.CheckConstraint(
                condition=models.Q(gold_correct__lte=models.F("gold_seen")), name="stats_correct_le_seen"
            ),
        ]


class WorkerRunShare(models.Model):
    """This job's latest consensus run's share of the worker's global skill (pseudo-judgments):
    the job's next run replaces it, so only the latest run of each job counts.

    Written by runs only, never by a submit: a run rewriting a thousand workers' shares takes no
    lock a submit wants (WorkerJobStats and WorkerSkill, which submits write, once held these
    figures). Readers add it to WorkerSkill (quality/skills.py: `worker_skills`)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="run_shares")
    right = models.FloatField()
    seen = models.FloatField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "worker"], name="one_run_share_per_job_worker"),
        ]


class WorkerSkill(models.Model):
    """A worker's gold answers across every job, as evidence: `right` out of `seen`.

    Gold answers add 1 seen (and 1 right when right) as they are scored, undos and rescoring
    take them back; only F()-style increments write it (quality/skills.py), so concurrent
    submits never lose each other's counts. The worker's global skill is this plus each job's
    latest run's share (WorkerRunShare, rows only runs write): `skills.worker_skills` adds them.
    Dynamic overlap reads it to weigh a worker its job knows little about yet.
    """

    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="skill"
    )
    right = models.FloatField(default=0.0)
    seen = models.FloatField(default=0.0)
    updated_at = models.DateTimeField()


class QualityEvent(models.Model):
    """The audit log of quality actions, automatic or by an admin, with the evidence behind them."""

    class Kind(models.TextChoices):
        BLOCKED = "blocked", "Blocked from the job"
        UNBLOCKED = "unblocked", "Unblocked"
        FLAGGED_FAST = "flagged_fast", "Flagged: answers too fast"
        RELABELED = "relabeled", "Judgments dropped and items reopened"
        EXPERT_QUEUED = "expert_queued", "Item sent to expert review"
        WITHDRAWAL_HELD = "withdrawal_held", "Pay withdrawal held for an admin's review"
        APPEAL_DECIDED = "appeal_decided", "Appeal decided"

    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.CASCADE, related_name="quality_events")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="quality_events"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    automatic = models.BooleanField(default=True)
    actor = models.ForeignKey(  # the admin who acted; null when a rule did
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    evidence = models.JSONField(default=dict)  # gold items and answers, answer times, counts
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["worker", "-created_at"], name="quality_event_worker"),
            models.Index(fields=["job", "-created_at"], name="quality_event_job"),
        ]


class ExpertReview(models.Model):
    """An item that stayed uncertain at maximum overlap, waiting for (or settled by) an expert."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for an expert"
        SETTLED = "settled", "Settled by an expert"

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="expert_review")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="expert_reviews")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reason = models.TextField()
    confidence = models.FloatField()  # the consensus confidence when it was queued
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_until = models.DateTimeField(null=True, blank=True)
    label = models.CharField(max_length=64, blank=True)
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    settled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["job", "id"], condition=models.Q(status="open"), name="expert_review_open"),
        ]


class CollusionFlag(models.Model):
    """Two workers of one job whose answers agree, or whose submissions fall in step, far beyond
    chance (consensus/collusion.py), with the figures behind it. Evidence for a person to weigh:
    nothing happens to either worker until an admin reviews it, and confirming it penalizes no
    one by itself (blocking stays the admin's separate action on the worker's page).

    Rewritten by each consensus run of the job (quality/collusion.py): an open flag the latest
    run no longer supports is removed; a reviewed one keeps its verdict and gets fresh figures.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DISMISSED = "dismissed", "Dismissed"
        CONFIRMED = "confirmed", "Confirmed"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="collusion_flags")
    # The pair in id order (a < b), so one pair has one row per job.
    worker_a = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    worker_b = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(ConsensusRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    by_agreement = models.BooleanField(default=False)  # flagged by the agreement scan
    by_timing = models.BooleanField(default=False)  # flagged by the timing scan
    p_value = models.FloatField()  # the smaller corrected p-value of the scans that flagged it
    evidence = models.JSONField(default=dict)  # {"agreement": {...}, "timing": {...}} figures
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "worker_a", "worker_b"], name="one_collusion_flag_per_pair"),
            models.CheckConstraint(condition=models.Q(worker_a__lt=models.F("worker_b")),
                                   name="collusion_pair_in_id_order"),
        ]
        indexes = [models.Index(fields=["status", "p_value"], name="collusion_flag_status")]
APPEAL_REASON_MAX = MAX_REASON_CHARS  # characters a worker may write; a decision note has the same limit


class Appeal(models.Model):
    """A worker contests an automatic block or a gold answer, within APPEAL_WINDOW of it
    (quality/appeals.py); the job's client or an admin decides (marketplace/flows_appeals.py)."""

    class Kind(models.TextChoices):
        BLOCK = "block", "Automatic block"
        GOLD = "gold", "Gold answer"

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for a decision"
        UPHELD = "upheld", "Upheld"
        REJECTED = "rejected", "Rejected"

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="appeals")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="appeals")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # What is contested: the block's event (kind block) or the missed gold judgment (kind gold).
    block_event = models.ForeignKey(
        QualityEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    judgment = models.ForeignKey(
        "labeling.Judgment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "block:<job id>" or "gold:<item id>": one open appeal per worker and subject.
    subject = models.CharField(max_length=40)
    reason = models.TextField()  # at most APPEAL_REASON_MAX characters (checked by the service)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_note = models.TextField(blank=True)
    # What an upheld gold appeal did: "corrected" (to gold_label) or "retired".
    gold_action = models.CharField(max_length=10, blank=True)
    gold_label = models.CharField(max_length=64, blank=True)
    outcome = models.JSONField(default=dict)  # what the decision changed: pay restored, workers rescored
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["worker", "subject"], condition=models.Q(status="open"), name="one_open_appeal_per_subject"
            ),
        ]
        indexes = [
            models.Index(fields=["job", "status", "-id"], name="appeal_job_status"),
            models.Index(fields=["worker", "-id"], name="appeal_worker"),
        ]


class WithdrawalReview(models.Model):
    """A rule's block that would withdraw more than QUORUM_WITHDRAW_REVIEW_SHARE of a worker's
    pay in a job: the block stands, the withdrawal waits for an admin (approve or dismiss)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for an admin"
        APPROVED = "approved", "Withdrawn"
        DISMISSED = "dismissed", "Pay kept"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    amount = models.DecimalField(max_digits=14, decimal_places=2)  # pay the rule would withdraw
    earned = models.DecimalField(max_digits=14, decimal_places=2)  # the worker's pay in the job
    # The block whose withdrawal is held (its BLOCKED event): approving it withdraws under it.
    block_event = models.ForeignKey(
        QualityEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # Approved: the pay of its block released to the worker since the review opened (releases
    # before pay under review waited, or billing_held_repair left it), which the withdrawal did
    # not take: released pay is never taken back. Recorded by the decision, or for older
    # decisions by billing_kept_repair; billing_audit holds the released pay to it. Null: none.
    left_with_worker = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        constraints = [
            # One per block: a second block of the pair has a withdrawal of its own (appeals.block_window).
            models.UniqueConstraint(
                fields=["job", "worker", "block_event"], condition=models.Q(status="pending"),
                name="one_pending_withdrawal_review_per_block",
            ),
        ]


class ProgressSnapshot(models.Model):
    """A job's completed item count at one step of the hourly cutoff (quality/own_figures.py), the
    "items left" a worker is shown of a job that hides gold feedback (quality/progress.py). Written
    once per step by a periodic job, never changed; pruned once a later step's row is read."""

    # No index of its own: the unique (job, taken_at) constraint's index serves every lookup.
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+", db_index=False)
    taken_at = models.DateTimeField()  # the step: a multiple of QUORUM_GOLD_FIGURES_LAG_SECONDS
    completed_item_count = models.PositiveIntegerField()  # as read by the first tick in the step

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "taken_at"], name="one_progress_snapshot_per_job_step"),
        ]
