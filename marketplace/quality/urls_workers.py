"""/api/v1/ routes of quality: workers (views in quality/api_workers.py)."""

from django.urls import path, re_path

from marketplace.quality import api_workers

urlpatterns = [
    path("quality/workers/", api_workers.WorkerQualityList.as_view(), name="quality-workers"),
    path("quality/workers/<int:worker_id>/", api_workers.WorkerQualityDetail.as_view(), name="quality-worker"),
    path("jobs/<int:job_id>/workers/", api_workers.JobWorkerList.as_view(), name="job-workers"),
    re_path(
        r"^jobs/(?P<job_id>[0-9]+)/workers/(?P<worker_id>[0-9]+)/(?P<action>block|unblock)/$",
        api_workers.WorkerBlockAction.as_view(),
        name="job-worker-block",
    ),
    path("me/quality/", api_workers.MyQuality.as_view(), name="me-quality"),
]
