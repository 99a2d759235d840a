"""Jobs, items and gold answers in the Django admin: to find and read, not to edit. Their writes
go through services that keep escrow, counters and scoring consistent (publishing reserves money,
an item import counts items, a gold answer changed by appeal rescored its judgments); an admin
form saving or deleting one would bypass all of it."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from marketplace.admin_records import RecordAdmin
from marketplace.jobs.models import GoldAnswer, Item, Job, JobQualification


class JobQualificationInline(admin.TabularInline):
    model = JobQualification
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(RecordAdmin):
    list_display = ("id", "title", "organization", "status", "tier", "overlap", "item_count",
                    "completed_item_count", "judgment_count", "created_at")
    list_filter = ("status", "tier")
    search_fields = ("title", "organization__name")
    list_select_related = ("organization",)
    inlines = [JobQualificationInline]


@admin.register(Item)
class ItemAdmin(RecordAdmin):
    list_display = ("id", "job", "external_id", "is_gold", "judgment_count", "is_complete")
    list_filter = ("is_gold", "is_complete")
    search_fields = ("external_id",)
    raw_id_fields = ("job",)
    # A job may hold a million items: never COUNT them all for the changelist paginator.
    show_full_result_count = False


@admin.register(GoldAnswer)
class GoldAnswerAdmin(RecordAdmin):
    list_display = ("item", "label")
    raw_id_fields = ("item",)
