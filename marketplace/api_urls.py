"""/api/v1/: each domain app contributes its own routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("marketplace.accounts.api_urls")),
    # Before jobs: quality serves jobs/<id>/results/ with consensus (jobs' plain view is shadowed).
    path("", include("marketplace.quality.urls_results")),
    path("", include("marketplace.jobs.api_urls")),
    path("", include("marketplace.labeling.api_urls")),
    path("", include("marketplace.quality.api_urls")),
    path("", include("marketplace.billing.api_urls")),
]
