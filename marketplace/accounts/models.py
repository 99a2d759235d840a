"""Users, roles, client organizations, API tokens and qualifications."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

SCORE_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))]
# An organization's name key: NFKC can lengthen a 200-character name (ligatures, fractions);
# 600 characters stay under PostgreSQL's btree entry limit (2,704 bytes) in any script.
NAME_KEY_MAX_CHARS = 600


class Organization(models.Model):
    """A client company. Every job, item, result and invoice belongs to exactly one."""

    name = models.CharField(max_length=200)
    # names.name_key(name): two organizations may not read alike ("Acme Vision", "ACME-VISION",
    # "ＡＣＭＥ Vision"). Set by sign-up and the Django admin. Null: an organization made directly
    # (bench scripts, the replay organization) or a duplicate older than the key (migration 0006).
    name_key = models.CharField(max_length=NAME_KEY_MAX_CHARS, null=True, blank=True, editable=False)
    slug = models.SlugField(max_length=80, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name_key"], name="organization_name_key_unique")]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    CLIENT = "client", "Client"
    WORKER = "worker", "Worker"
    ADMIN = "admin", "Admin"


class User(AbstractUser):
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.WORKER)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    # Set when an admin stops a worker everywhere (fraud); per-job blocks live in labeling.
    suspended_at = models.DateTimeField(null=True, blank=True)
    # Why, and what showed it (accounts.services.user_suspend): shown on the staff worker page.
    suspension_reason = models.TextField(blank=True)
    suspension_evidence = models.TextField(blank=True)
    suspended_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            # A client always belongs to one organization; nobody else belongs to any.
            models.CheckConstraint(
                condition=(Q(role="client") & Q(organization__isnull=False))
                | (~Q(role="client") & Q(organization__isnull=True)),
                name="user_client_has_organization",
            ),
        ]

    @property
    def is_client(self) -> bool:
        return self.role == Role.CLIENT

    @property
    def is_worker(self) -> bool:
        return self.role == Role.WORKER

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser


class Suspension(models.Model):
    """One platform-wide suspension of a worker, kept after it is lifted: who suspended them, when,
    why and on what evidence; who lifted it, when and why. User.suspended_at and its companions
    say whether the worker is suspended now; these rows are the record an auditor reads."""

    worker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="suspensions")
    suspended_at = models.DateTimeField()
    suspended_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField()
    evidence = models.TextField(blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lift_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-suspended_at", "-id"]
        constraints = [
            # One open suspension per worker: the services' compare-and-set on User.suspended_at
            # already ensures it; the database says so too.
            models.UniqueConstraint(
                fields=["worker"], condition=Q(lifted_at__isnull=True), name="suspension_one_open_per_worker"
            ),
        ]


def hash_token(secret: str) -> str:
    """What a token's row keeps of its secret: the SHA-256, never the secret itself."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A named bearer token. Only a SHA-256 of the secret is stored; it is shown once.

    It ends when revoked, when its owner's password is reset or changed (every token then goes),
    or at expires_at when one was set.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # null: until revoked

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Qualification(models.Model):
    """A skill a job can require. Owned by an organization, or platform-wide when owner is null."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="qualifications"
    )
    # Expert qualifications gate the expert review queue (consensus issue).
    is_expert = models.BooleanField(default=False)
    # Exam: labels the questions choose from, the share correct to pass, the wait after a failure.
    exam_labels = models.JSONField(default=list, blank=True)
    pass_mark = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.8"), validators=SCORE_VALIDATORS
    )
    retry_cooldown_seconds = models.PositiveIntegerField(default=3600)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class ExamQuestion(models.Model):
    qualification = models.ForeignKey(
        Qualification, on_delete=models.CASCADE, related_name="questions"
    )
    data = models.JSONField()
    answer = models.CharField(max_length=64)  # a key of qualification.exam_labels; never shown

    class Meta:
        ordering = ["id"]


class WorkerQualification(models.Model):
    """A worker holds a qualification with a score in [0, 1]. Revoking deletes the row."""

    class Source(models.TextChoices):
        EXAM = "exam", "Exam"
        ADMIN = "admin", "Granted by an admin"

    worker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="qualifications")
    qualification = models.ForeignKey(Qualification, on_delete=models.CASCADE, related_name="holders")
    score = models.DecimalField(max_digits=5, decimal_places=4, validators=SCORE_VALIDATORS)
    source = models.CharField(max_length=10, choices=Source.choices)
    granted_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "qualification"], name="one_grant_per_worker"),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=1), name="worker_qualification_score_0_1"
            ),
        ]


class ExamAttempt(models.Model):
    worker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="exam_attempts")
    qualification = models.ForeignKey(Qualification, on_delete=models.CASCADE, related_name="attempts")
    score = models.DecimalField(max_digits=5, decimal_places=4)
    passed = models.BooleanField()
    answers = models.JSONField()  # {question_id: label} as submitted, for review
    submitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["worker", "qualification", "-submitted_at"])]


class TrainingItem(models.Model):
    """A practice item of a qualification: shown before the exam, never scored. Unlike exam
    answers, its answer and explanation are shown to the worker, but only after they answer."""

    qualification = models.ForeignKey(
        Qualification, on_delete=models.CASCADE, related_name="training_items"
    )
    data = models.JSONField()
    answer = models.CharField(max_length=64)  # a key of qualification.exam_labels
    explanation = models.TextField(blank=True)  # why the answer is right, shown after answering
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
