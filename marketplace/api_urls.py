"""/api/v1/: each domain app contributes its own routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("marketplace.accounts.api_urls")),
    path("", include("marketplace.jobs.api_urls")),
    path("", include("marketplace.labeling.api_urls")),
    path("", include("marketplace.quality.api_urls")),
]
