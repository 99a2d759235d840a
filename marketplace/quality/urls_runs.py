"""/api/v1/ routes of quality: consensus runs (views in quality/api_runs.py)."""

from django.urls import path

from marketplace.quality import api_runs as views

urlpatterns = [
    path(
        "jobs/<int:job_id>/consensus/", views.JobConsensusRuns.as_view(), name="job-consensus-runs"
    ),
    path(
        "jobs/<int:job_id>/consensus/<int:run_id>/",
        views.JobConsensusRunDetail.as_view(),
        name="job-consensus-run",
    ),
    path(
        "jobs/<int:job_id>/consensus/<int:run_id>/workers/",
        views.JobConsensusRunWorkers.as_view(),
        name="job-consensus-run-workers",
    ),
]
