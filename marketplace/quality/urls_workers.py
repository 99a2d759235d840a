"""/api/v1/ routes of quality: workers (views in quality/api_workers.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
