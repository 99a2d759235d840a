"""The client portal's billing page, mounted at /portal/billing/ (marketplace/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, path

from marketplace.billing import views_client

urlpatterns: list[URLPattern] = [
    path("", views_client.billing, name="client-billing"),
]
