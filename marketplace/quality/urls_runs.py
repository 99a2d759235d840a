"""/api/v1/ routes of quality: runs (views in quality/api_runs.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
