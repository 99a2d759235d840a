"""Admin: the outbox and the delivery log, read-only (support reads them; services write them).
An endpoint's secret is never shown here either."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from marketplace.notifications.models import Delivery, Event, WebhookEndpoint


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_ReadOnly):
    list_display = ("id", "organization", "url", "is_active", "created_at")
    list_filter = ("is_active",)
    exclude = ("secret", "previous_secret")


@admin.register(Event)
class EventAdmin(_ReadOnly):
    list_display = ("id", "organization", "job", "type", "created_at", "mail_wanted", "mail_sent_at", "mail_error")
    list_filter = ("type", "mail_wanted")
    list_select_related = ("organization", "job")


@admin.register(Delivery)
class DeliveryAdmin(_ReadOnly):
    list_display = ("id", "endpoint", "event", "status", "attempts", "response_code", "error", "next_attempt_at")
    list_filter = ("status",)
    list_select_related = ("endpoint", "event")
