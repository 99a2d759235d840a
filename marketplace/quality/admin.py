"""Admin for consensus runs, a "run consensus" action on jobs, and read-only quality records.

The action is added by re-registering jobs' JobAdmin with a subclass here, so jobs never
imports quality.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from marketplace.errors import Conflict, Unavailable
from marketplace.jobs.admin import JobAdmin
from marketplace.jobs.models import Job
from marketplace.admin_records import RecordAdmin
from marketplace.quality.models import (
    Appeal,
    CollusionFlag,
    ConsensusRun,
    ExpertReview,
    QualityEvent,
    WithdrawalReview,
    WorkerSkill,
)
from marketplace.quality.tasks import consensus_schedule


@admin.action(description="Run consensus now (default method)")
def run_consensus(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Job]
) -> None:
    started, busy = 0, 0
    for job in queryset.order_by("pk"):
        try:
            consensus_schedule(job=job, trigger=ConsensusRun.Trigger.MANUAL)
            started += 1
        except Conflict:
            busy += 1
        except Unavailable as exc:  # the broker is down: the rest would fail the same way
            modeladmin.message_user(request, exc.message, messages.ERROR)
            break
    modeladmin.message_user(request, f"Consensus started for {started} job(s).", messages.SUCCESS)
    if busy:
        modeladmin.message_user(
            request, f"{busy} job(s) already had a run in progress.", messages.WARNING
        )


admin.site.unregister(Job)


@admin.register(Job)
class JobWithConsensusAdmin(JobAdmin):
    actions = [run_consensus]


@admin.register(ConsensusRun)
class ConsensusRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "job",
        "method",
        "trigger",
        "status",
        "started_at",
        "seconds",
        "judgments",
        "items",
        "workers",
        "rounds",
        "converged",
    )
    list_filter = ("status", "method", "trigger")
    list_select_related = ("job",)
    raw_id_fields = ("job",)
    readonly_fields = [f.name for f in ConsensusRun._meta.fields]
    search_fields = ("job__title",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are made by consensus, not typed in

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a run's results are what was delivered and what workers were scored on


@admin.register(QualityEvent)
class QualityEventAdmin(RecordAdmin):
    list_display = ("id", "kind", "job", "worker", "created_at")
    list_filter = ("kind",)
    list_select_related = ("job", "worker")
    raw_id_fields = ("job", "worker")
    search_fields = ("worker__username", "job__title")


@admin.register(ExpertReview)
class ExpertReviewAdmin(RecordAdmin):
    list_display = ("id", "job", "item", "status", "confidence", "assigned_to")
    list_filter = ("status",)
    list_select_related = ("job", "assigned_to")
    raw_id_fields = ("job", "item", "assigned_to")


@admin.register(CollusionFlag)
class CollusionFlagAdmin(RecordAdmin):
    list_display = ("id", "job", "worker_a", "worker_b", "p_value", "status", "created_at")
    list_filter = ("status",)
    list_select_related = ("job", "worker_a", "worker_b")


@admin.register(Appeal)
class AppealAdmin(RecordAdmin):
    list_display = ("id", "kind", "status", "worker", "job")
    list_filter = ("kind", "status")
    list_select_related = ("worker", "job")


@admin.register(WithdrawalReview)
class WithdrawalReviewAdmin(RecordAdmin):
    list_display = ("id", "status", "job", "worker", "amount", "earned")
    list_filter = ("status",)
    list_select_related = ("job", "worker")


@admin.register(WorkerSkill)
class WorkerSkillAdmin(RecordAdmin):
    list_display = ("worker", "right", "seen")
    list_select_related = ("worker",)
    search_fields = ("worker__username",)
