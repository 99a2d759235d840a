from django.contrib import admin

from marketplace.jobs.models import GoldAnswer, Item, Job, JobQualification


class JobQualificationInline(admin.TabularInline):
    model = JobQualification
    extra = 0


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "organization", "status", "tier", "overlap", "item_count",
                    "completed_item_count", "judgment_count", "created_at")
    list_filter = ("status", "tier")
    search_fields = ("title", "organization__name")
    list_select_related = ("organization",)
    readonly_fields = ("item_count", "gold_item_count", "judgment_count", "gold_judgment_count",
                       "completed_item_count", "published_at", "finished_at")
    inlines = [JobQualificationInline]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "external_id", "is_gold", "judgment_count", "is_complete")
    list_filter = ("is_gold", "is_complete")
    search_fields = ("external_id",)
    raw_id_fields = ("job",)
    # A job may hold a million items: never COUNT them all for the changelist paginator.
    show_full_result_count = False


@admin.register(GoldAnswer)
class GoldAnswerAdmin(admin.ModelAdmin):
    list_display = ("item", "label")
    raw_id_fields = ("item",)
