"""/api/v1/ routes of quality: experts (views in quality/api_experts.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
