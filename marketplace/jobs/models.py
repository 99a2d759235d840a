"""Jobs, their items and the gold answers behind gold items.

Counters are kept so a dashboard reads a few integers instead of running COUNT(*) over a
million-row item table. item_count and gold_item_count sit on Job (F() updates by imports, which
lock the job anyway). The three counters every submit moves (judgments, gold judgments, completed
items) do not: a counter on the job row would be a row every submit of the job must write, so all
of them would queue on its lock until commit. They live in JobTally rows instead, one per worker
(each submit writes only its own worker's row) plus shard 0 for adjustments; a job's count is the
sum of its rows. Job's default manager adds those sums to every query under the old names
(`judgment_count`, `gold_judgment_count`, `completed_item_count`), so `.values(...)`, `F(...)`,
`order_by(...)` and templates read them as before; an instance loaded any other way
(`objects.create`, `raw`, a select_related join, `refresh_from_db`) sums the tallies on first read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from marketplace.accounts.models import Organization, Qualification

DEFAULT_TIER = "standard"


class JobStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


# The only legal moves; services check against this table.
JOB_TRANSITIONS: dict[str, frozenset[str]] = {
    JobStatus.DRAFT: frozenset({JobStatus.OPEN, JobStatus.CANCELLED}),
    JobStatus.OPEN: frozenset({JobStatus.PAUSED, JobStatus.COMPLETED, JobStatus.CANCELLED}),
    JobStatus.PAUSED: frozenset({JobStatus.OPEN, JobStatus.COMPLETED, JobStatus.CANCELLED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


# Job attribute name -> the JobTally column it sums.
TALLIED = {
    "judgment_count": "judgments",
    "gold_judgment_count": "gold_judgments",
    "completed_item_count": "completed_items",
}


def _tally_sum(column: str) -> Coalesce:
    """The sum of one tally column over the job of the outer row (0 when it has no tally yet)."""
    rows = (
        JobTally.objects.filter(job_id=OuterRef("pk")).order_by()
        .values("job_id").annotate(total=Sum(column)).values("total")
    )
    return Coalesce(Subquery(rows, output_field=models.BigIntegerField()), 0)


class JobManager(models.Manager["Job"]):
    """Every job query carries its tallied counts, summed in SQL (see the module docstring)."""

    def get_queryset(self) -> models.QuerySet[Job]:
        return super().get_queryset().annotate(
            **{name: _tally_sum(column) for name, column in TALLIED.items()}
        )


def _tallied(name: str) -> property:
    """A counter read from the query's annotation, else summed from the tallies on first read."""

    def fget(job: Job) -> int:
        if name not in job.__dict__.setdefault("_tallied", {}):
            job.tally_counts_load()
        return int(job.__dict__["_tallied"][name])

    def fset(job: Job, value: int) -> None:
        job.__dict__.setdefault("_tallied", {})[name] = value

    return property(fget, fset, doc=f"Sum of JobTally.{TALLIED[name]} over the job's rows.")


class Job(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)  # Markdown, checked by jobs.markdown
    # The instructions rendered and sanitized once, when saved (jobs.markdown.instructions_render):
    # no page or API call renders Markdown, and lists defer both columns.
    instructions_html = models.TextField(blank=True, default="")
    # Bumped by each edit of a running job's instructions (jobs.editing); every lease carries the
    # version it was claimed under, and its judgment records it. Earlier texts are in JobInstructions.
    instructions_version = models.PositiveIntegerField(default=1)
    # [{"key": "cat", "name": "Cat", "shortcut": "c"}, ...]: 2 to 50 choices, validated by services.
    labels = models.JSONField()
    # An item takes any subset of the label set (judgments carry Judgment.labels); fixed once
    # published, like every field a worker answers under (job_update edits drafts only).
    multi_label = models.BooleanField(default=False)
    overlap = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(50)]
    )
    reward_per_judgment = models.DecimalField(  # currency units per accepted judgment, 4 places
        max_digits=12, decimal_places=4, default=Decimal("0.0200")
    )
    tier = models.SlugField(max_length=40, default=DEFAULT_TIER)
    gold_rate = models.DecimalField(  # share of assignments that are gold, 0..0.5
        max_digits=5, decimal_places=4, default=Decimal("0.1000")
    )
    # Dynamic overlap: with both set, `overlap` is the minimum and an item completes once its
    # consensus confidence reaches `target_confidence`, or at `max_overlap` (then expert review).
    max_overlap = models.PositiveSmallIntegerField(null=True, blank=True)
    target_confidence = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    # Overrides of the tier's quality-rule defaults (validated by quality.rules).
    quality_rules = models.JSONField(default=dict, blank=True)
    # The terms fixed at publish (job_terms_fix), so an admin editing the tier later changes
    # neither the running job's rules nor its settlement: the tier's promise (a share, 0..1) and
    # every quality rule as then in force (quality.rules.QualityRules.as_dict()). Null until then.
    promised_accuracy = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    rules_at_publish = models.JSONField(null=True, blank=True)
    lease_seconds = models.PositiveIntegerField(default=600)
    # The item data fields workers see (names, in the client's order); empty: every field. The
    # rest (metadata columns, ids) stays in exports and the data browser only. jobs.fields checks it.
    worker_fields = models.JSONField(default=list, blank=True)
    priority = models.SmallIntegerField(default=0)
    # Pre-labels, off when null (the default): workers see this model version's label of an item
    # as a suggestion. Set before publishing only (job_update edits drafts), and each judgment's
    # pair records the label shown (PrelabelShown): agreement with it is not independent.
    prelabel_model = models.ForeignKey(
        "PredictionModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Denormalized counters (F() updates only). Gold items and judgments are counted apart.
    item_count = models.PositiveIntegerField(default=0)
    gold_item_count = models.PositiveIntegerField(default=0)
    # Summed from JobTally (the manager annotates them; see the module docstring).
    judgment_count = _tallied("judgment_count")
    gold_judgment_count = _tallied("gold_judgment_count")
    completed_item_count = _tallied("completed_item_count")

    objects = JobManager()

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at"]), models.Index(fields=["status"])]
        constraints = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="job_overlap_positive"),
            models.CheckConstraint(
                condition=Q(gold_rate__gte=0) & Q(gold_rate__lte=Decimal("0.5")), name="job_gold_rate_range"
            ),
            models.CheckConstraint(condition=Q(reward_per_judgment__gte=0), name="job_reward_non_negative"),
            models.CheckConstraint(
                condition=(Q(max_overlap__isnull=True) & Q(target_confidence__isnull=True))
                | (
                    Q(max_overlap__gte=models.F("overlap"))
                    & Q(target_confidence__gt=Decimal("0.5"))
                    & Q(target_confidence__lt=Decimal("1"))
                ),
                name="job_dynamic_overlap_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def tally_counts_load(self) -> None:
        """Sum this job's tallies now (an instance the annotating manager did not load)."""
        sums = JobTally.objects.filter(job_id=self.pk).aggregate(
            **{name: Coalesce(Sum(column), 0) for name, column in TALLIED.items()}
        )
        self.__dict__["_tallied"] = {name: int(value) for name, value in sums.items()}

    def tally_counts_forget(self) -> None:
        """Sum the tallies again on next read (the counts held may predate a lock wait)."""
        self.__dict__.pop("_tallied", None)

    def refresh_from_db(self, using: str | None = None, fields: Any = None, from_queryset: Any = None) -> None:
        """Forget the tallied counts too (read afresh on next use); they are not model fields."""
        self.tally_counts_forget()
        if fields is not None:
            fields = [f for f in fields if f not in TALLIED]
            if not fields:
                return
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)

    @property
    def label_keys(self) -> list[str]:
        return [choice["key"] for choice in self.labels]

    @property
    def is_dynamic(self) -> bool:
        return self.max_overlap is not None


class JobTally(models.Model):
    """A share of a job's counters: the job's count is the sum over its rows.

    shard = the worker's id for what their submits add (a submit writes only its own worker's
    row, by upsert, so two workers' submits never wait on each other's row), and blocks subtract
    from the dropped worker's row; shard 0 takes adjustments with no worker (counts carried over
    by the migration that made tallies, replayed jobs). Signed: a worker's row may go below zero
    when a block reopens items that others' submits completed; only the sum means anything.
    """

    ADJUSTMENTS = 0  # the shard of counts that belong to no worker

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="tallies")
    shard = models.BigIntegerField()
    judgments = models.BigIntegerField(default=0)  # regular judgments accepted
    gold_judgments = models.BigIntegerField(default=0)  # gold judgments accepted
    completed_items = models.BigIntegerField(default=0)  # regular items completed

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "shard"], name="one_tally_per_job_shard")]


class JobQualification(models.Model):
    """A job requires the worker to hold `qualification` with at least `min_score`."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="requirements")
    qualification = models.ForeignKey(Qualification, on_delete=models.PROTECT, related_name="+")
    min_score = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "qualification"], name="one_requirement_per_qualification")
        ]


class JobInstructions(models.Model):
    """A running job's instructions as they were before an edit replaced them (jobs.editing).

    The job row always holds the latest text, which is what workers read; this keeps every earlier
    version so a judgment's instructions_version can be looked up. Append-only."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="instruction_versions")
    version = models.PositiveIntegerField()
    text = models.TextField(blank=True)  # Markdown, as checked then
    html = models.TextField(blank=True)  # rendered and sanitized then
    created_at = models.DateTimeField()  # when this version was written (publish or an edit)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "version"], name="one_instructions_per_version")]


class Item(models.Model):
    """One thing to label. Gold items carry a GoldAnswer row that worker code never loads."""

    # No index of its own: item_job_id leads with it (an item's claim and completion rewrite
    # every index of the row, since they change the serving order's columns).
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="items", db_index=False)
    external_id = models.CharField(max_length=200, null=True, blank=True)
    data = models.JSONField()
    is_gold = models.BooleanField(default=False)
    priority = models.SmallIntegerField(default=0)
    # Accepted judgments that count towards overlap (never gold ones).
    judgment_count = models.PositiveSmallIntegerField(default=0)
    # Judgments wanted beyond the job's overlap: raised one at a time while a dynamic-overlap item
    # stays uncertain. (A blocked worker's dropped judgments lower judgment_count instead.)
    extra_judgments = models.PositiveSmallIntegerField(default=0, db_default=0)
    # Becomes true at the first lease, so partly judged items are served first.
    started = models.BooleanField(default=False)
    # Every slot is held until at least then (the claim that took the last slot wrote it: the
    # earliest end of the item's live leases); null when a slot may be free. A hint, not a count:
    # the claim's windows walk items where it is null, then where it has passed (labeling/sql.py).
    full_until = models.DateTimeField(null=True, blank=True)
    is_complete = models.BooleanField(default=False)
    # Complete once, then reopened by the client for more judgments (labeling/reopening.py): it was
    # delivered, so a settlement before it completes again still charges it (billing.job_settle).
    reopened_complete = models.BooleanField(default=False, db_default=False)
    # Of extra_judgments, those the client asked for (labeling/reopening.py, the top of the target):
    # the ones given are charged at the job's pay (billing.selectors.job_charge).
    asked_judgments = models.PositiveSmallIntegerField(default=0, db_default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "external_id"],
                condition=Q(external_id__isnull=False),
                name="item_external_id_unique_in_job",
            ),
        ]
        indexes = [
            # The assignment scan: open items of a job in serving order, stopping at the first fit.
            models.Index(
                fields=["job", "-started", "-priority", "id"],
                condition=Q(is_complete=False, is_gold=False),
                name="item_serving_order",
            ),
            # The claim's started windows (labeling/sql.py): item_serving_order read every full
            # item's row to pass it. Price: taking an item's last slot is no longer a HOT update.
            models.Index(fields=["job", "-priority", "id"], name="item_serving_open", condition=Q(
                is_complete=False, is_gold=False, started=True, full_until__isnull=True)),
            models.Index(fields=["job", "full_until", "id"], name="item_lapsing", condition=Q(
                is_complete=False, is_gold=False, started=True, full_until__isnull=False)),
            models.Index(fields=["job", "is_gold", "id"], name="item_job_gold"),
            # The data browser's default walk: a job's items in id order, from a cursor.
            models.Index(fields=["job", "id"], name="item_job_id"),
        ]


class GoldAnswer(models.Model):
    item = models.OneToOneField(Item, on_delete=models.CASCADE, primary_key=True, related_name="gold")
    label = models.CharField(max_length=64)  # single-label jobs; "" on multi-label ones
    # Multi-label jobs: the set of label keys the item takes (may be empty); null otherwise.
    labels = models.JSONField(null=True, blank=True)
    explanation = models.TextField(blank=True)


class JobStaffView(models.Model):
    """An admin opened one of a client's job pages (the page, its data or a download): staff access
    to client data is read-only and every look is on record, shown to the client on the job page."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="staff_views")
    viewer = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    what = models.CharField(max_length=200)  # the page's path (query string cut)
    viewed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["job", "-viewed_at"], name="jobstaffview_job_recent")]


# A model version's predictions and the pre-labels shown: a subject of their own, in their own file,
# imported here so that Django registers them with the app and `jobs.models` names them as before.
from marketplace.jobs.models_predictions import Prediction, PredictionModel, PrelabelShown  # noqa: E402, F401
