"""Django admin for labeling: read-mostly staff views of leases, judgments and job blocks.

Leases and judgments change only through the services (slot counting, counters, completion), so
here they are read-only. A job block is placed by the quality services; here it can only be
lifted (deleted).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from marketplace.labeling.models import JobBlock, Judgment, Lease


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Lease)
class LeaseAdmin(ReadOnlyAdmin):
    list_display = ("id", "job", "item", "worker", "status", "created_at", "expires_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("worker__username",)
    list_select_related = ("job", "worker")
    raw_id_fields = ("job", "item", "worker")
    # Millions of rows: never COUNT them all for the changelist paginator.
    show_full_result_count = False


@admin.register(Judgment)
class JudgmentAdmin(ReadOnlyAdmin):
    list_display = ("id", "job", "item", "worker", "label", "is_gold", "is_correct", "status", "created_at")
    list_filter = ("status", "is_gold", "is_correct")
    search_fields = ("worker__username", "label")
    list_select_related = ("job", "worker")
    raw_id_fields = ("job", "item", "worker", "lease")
    show_full_result_count = False


@admin.register(JobBlock)
class JobBlockAdmin(ReadOnlyAdmin):
    list_display = ("job", "worker", "reason", "created_at")
    search_fields = ("worker__username", "job__title")
    list_select_related = ("job", "worker")
    raw_id_fields = ("job", "worker")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting the row lifts the block: the usual permission check, not ReadOnlyAdmin's "no".
        return admin.ModelAdmin.has_delete_permission(self, request, obj)
