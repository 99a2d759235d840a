"""Admin for consensus runs, and a "run consensus" action on jobs.

The action is added by re-registering jobs' JobAdmin with a subclass here, so jobs never
imports quality.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from marketplace.errors import Conflict
from marketplace.jobs.admin import JobAdmin
from marketplace.jobs.models import Job
from marketplace.quality.models import ConsensusRun
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
