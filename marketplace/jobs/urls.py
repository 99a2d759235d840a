"""Client portal pages for jobs, mounted at /portal/ (marketplace/urls.py). Page names avoid the
API's (`job-detail`, `job-results`, …): new ones are prefixed `client-`."""

from __future__ import annotations

from django.urls import URLPattern, path

from marketplace.jobs import views, views_wizard

urlpatterns: list[URLPattern] = [
    path("jobs/", views.dashboard, name="client-dashboard"),
    # The wizard: step 1 creates the draft, the next steps fill it, the last one publishes.
    path("jobs/new/", views_wizard.job_create, name="job-create"),
    path("jobs/preview/", views_wizard.instructions_preview, name="client-instructions-preview"),
    path("jobs/<int:job_id>/setup/", views_wizard.setup_details, name="client-job-setup"),
    path("jobs/<int:job_id>/setup/items/", views_wizard.setup_items, name="client-job-setup-items"),
    path("jobs/<int:job_id>/setup/gold/", views_wizard.setup_gold, name="client-job-setup-gold"),
    path("jobs/<int:job_id>/setup/publish/", views_wizard.setup_publish, name="client-job-setup-publish"),
    # A job's page and its controls.
    path("jobs/<int:job_id>/", views.job_page, name="job-page"),
    path("jobs/<int:job_id>/pause/", views.job_pause, name="client-job-pause"),
    path("jobs/<int:job_id>/resume/", views.job_resume, name="client-job-resume"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="client-job-cancel"),
]
