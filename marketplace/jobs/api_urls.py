from django.urls import include, path

from marketplace.jobs import api

urlpatterns = [
    path("jobs/", api.JobListCreate.as_view(), name="job-list"),
    path("jobs/<int:job_id>/", api.JobDetail.as_view(), name="job-detail"),
    path("jobs/<int:job_id>/<str:action>/", api.JobAction.as_view(), name="job-action"),
    # Items, gold items and exports (marketplace/jobs/items_urls.py).
    path("", include("marketplace.jobs.items_urls")),
]
