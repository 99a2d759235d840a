"""Django admin for accounts. Staff tooling only: the API and pages go through the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from marketplace.accounts.access import user_access_changed
from marketplace.accounts.models import (
    ApiToken,
    ExamAttempt,
    ExamQuestion,
    Organization,
    Qualification,
    Suspension,
    TrainingItem,
    User,
    WorkerQualification,
)
from marketplace.accounts.qualifications import exam_labels_validate
from marketplace.accounts.services import organization_name_check
from marketplace.admin_records import RecordAdmin
from marketplace.errors import ApplicationError


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    # The model's check constraint ties role and organization together; the form shows both so
    # Django validates it before saving instead of failing with an IntegrityError.
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Marketplace", {"fields": ("role", "organization", "suspended_at")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Marketplace", {"classes": ("wide",), "fields": ("role", "organization")}),
    )
    list_display = (
        "username", "email", "role", "organization", "is_active", "suspended_at", "date_joined",
    )
    list_filter = ("role", "is_active", "is_staff", "organization")
    list_select_related = ("organization",)
    search_fields = ("username", "email", "organization__name")

    def save_model(self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Deactivated, or moved to another role or organization: sockets opened before close (a
        # password set here goes through accounts/passwords.py).
        if change and {"is_active", "role", "organization"} & set(form.changed_data):
            user_access_changed(user_id=obj.pk)

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        user_access_changed(user_id=obj.pk)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        # The bulk action runs outside the admin's transaction: this one holds the message back
        # until the rows are gone.
        with transaction.atomic():
            for user_id in queryset.values_list("pk", flat=True):
                user_access_changed(user_id=user_id)
            super().delete_queryset(request, queryset)


class OrganizationForm(forms.ModelForm):
    """A new or renamed organization's name is checked as at sign-up: no two read alike."""

    class Meta:
        model = Organization
        fields = ("name", "slug")

    def clean_name(self) -> str:
        # The admin's change view runs in a transaction, so the name's lock lasts until the save.
        try:
            name, self.instance.name_key = organization_name_check(
                name=self.cleaned_data["name"], exclude_id=self.instance.pk)
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from None
        return name


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    form = OrganizationForm
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Read-only: only a hash of each secret exists. Deleting a row revokes the token."""

    list_display = ("name", "prefix", "user", "created_at", "last_used_at")
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at")
    exclude = ("key_hash",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class QualificationForm(forms.ModelForm):
    class Meta:
        model = Qualification
        fields = "__all__"

    def clean_exam_labels(self) -> list[dict[str, str]]:
        try:
            return exam_labels_validate(self.cleaned_data.get("exam_labels"))
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from None


class ExamQuestionInline(admin.TabularInline):
    model = ExamQuestion
    extra = 0


class TrainingItemInline(admin.TabularInline):
    model = TrainingItem
    extra = 0
    fields = ("data", "answer", "explanation")


@admin.register(Qualification)
class QualificationAdmin(admin.ModelAdmin):
    form = QualificationForm
    list_display = ("name", "slug", "owner", "is_expert", "pass_mark", "retry_cooldown_seconds")
    list_filter = ("is_expert",)
    search_fields = ("name", "slug", "owner__name")
    list_select_related = ("owner",)
    prepopulated_fields = {"slug": ("name",)}
    inlines = [ExamQuestionInline, TrainingItemInline]


@admin.register(WorkerQualification)
class WorkerQualificationAdmin(admin.ModelAdmin):
    list_display = ("worker", "qualification", "score", "source", "granted_at")
    list_filter = ("source", "qualification")
    search_fields = ("worker__username", "qualification__name")
    list_select_related = ("worker", "qualification")
    raw_id_fields = ("worker",)


@admin.register(ExamAttempt)
class ExamAttemptAdmin(admin.ModelAdmin):
    """A record of what was submitted; never edited."""

    list_display = ("worker", "qualification", "score", "passed", "submitted_at")
    list_filter = ("passed", "qualification")
    search_fields = ("worker__username", "qualification__name")
    list_select_related = ("worker", "qualification")
    readonly_fields = ("worker", "qualification", "score", "passed", "answers", "submitted_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Suspension)
class SuspensionAdmin(RecordAdmin):
    list_display = ("id", "worker", "suspended_at", "suspended_by", "lifted_at", "lifted_by")
    list_select_related = ("worker", "suspended_by", "lifted_by")
    search_fields = ("worker__username", "reason")
    raw_id_fields = ("worker", "suspended_by", "lifted_by")
