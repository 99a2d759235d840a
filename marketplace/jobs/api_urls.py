from django.urls import include, path, re_path

from marketplace.jobs import api

urlpatterns = [
    path("jobs/", api.JobListCreate.as_view(), name="job-list"),
    path("jobs/<int:job_id>/", api.JobDetail.as_view(), name="job-detail"),
    # Only the lifecycle verbs: a catch-all <str:action> would swallow items/, gold/ and results/.
    re_path(
        r"^jobs/(?P<job_id>[0-9]+)/(?P<action>publish|pause|resume|cancel)/$",
        api.JobAction.as_view(),
        name="job-action",
    ),
    # Items, gold items and exports (marketplace/jobs/items_urls.py).
    path("", include("marketplace.jobs.items_urls")),
]
