"""/api/v1/ routes of the quality app, one module per area so each stays small."""

from django.urls import include, path

urlpatterns = [
    path("", include("marketplace.quality.urls_runs")),
    path("", include("marketplace.quality.urls_workers")),
    path("", include("marketplace.quality.urls_experts")),
]
