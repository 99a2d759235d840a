"""/api/v1/jobs/<id>/results/ served by quality: the jobs export plus the latest consensus run.

Included in marketplace/api_urls.py before the jobs routes, so this view answers the path; jobs
keeps its plain view (and stays free of quality imports).
"""

from django.urls import path

from marketplace.quality.results import JobResultsWithConsensus

urlpatterns = [
    path("jobs/<int:job_id>/results/", JobResultsWithConsensus.as_view(), name="job-results"),
]
