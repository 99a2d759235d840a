"""The client portal, mounted at /portal/ (marketplace/urls.py): jobs, the wizard, billing. Page
names avoid the API's (`job-detail`, `job-results`, …): new ones are prefixed `client-`."""

from __future__ import annotations

from django.urls import URLPattern, path

from marketplace.web.client import (
    appeals, billing, browse, edits, exports, jobs, qualifications, webhooks, wizard, wizard_publish,
)

urlpatterns: list[URLPattern] = [
    path("jobs/", jobs.dashboard, name="client-dashboard"),
    # The wizard: step 1 creates the draft, the next steps fill it, the last one publishes.
    path("jobs/new/", wizard.job_create, name="job-create"),
    path("jobs/preview/", wizard.instructions_preview, name="client-instructions-preview"),
    path("jobs/<id:job_id>/setup/", wizard.setup_details, name="client-job-setup"),
    path("jobs/<id:job_id>/setup/items/", wizard.setup_items, name="client-job-setup-items"),
    path("jobs/<id:job_id>/setup/gold/", wizard.setup_gold, name="client-job-setup-gold"),
    path("jobs/<id:job_id>/setup/remove/", edits.items_remove, name="client-job-setup-remove"),
    path("jobs/<id:job_id>/setup/publish/", wizard_publish.setup_publish, name="client-job-setup-publish"),
    # A job's page and its controls.
    path("jobs/<id:job_id>/", jobs.job_page, name="job-page"),
    path("jobs/<id:job_id>/figures/", jobs.job_figures, name="client-job-figures"),
    path("jobs/<id:job_id>/pause/", jobs.job_pause, name="client-job-pause"),
    path("jobs/<id:job_id>/resume/", jobs.job_resume, name="client-job-resume"),
    path("jobs/<id:job_id>/cancel/", jobs.job_cancel, name="client-job-cancel"),
    path("jobs/<id:job_id>/delete/", edits.job_delete, name="client-job-delete"),
    path("jobs/<id:job_id>/instructions/", edits.job_instructions, name="client-job-instructions"),
    path("jobs/<id:job_id>/worker-fields/", edits.job_worker_fields, name="client-job-worker-fields"),
    # The data browser under a job's page (web/client/browse.py); admins may open it too.
    path("jobs/<id:job_id>/data/", browse.data_page, name="client-job-data"),
    path("jobs/<id:job_id>/data/export/", browse.data_export, name="client-job-data-export"),
    path("jobs/<id:job_id>/data/more/", browse.more_judgments, name="client-job-data-more"),
    path("jobs/<id:job_id>/data/expert/", browse.expert_review, name="client-job-data-expert"),
    path("jobs/<id:job_id>/data/<id:item_id>/", browse.item_page, name="client-job-data-item"),
    path("jobs/<id:job_id>/consensus/", browse.consensus_now, name="client-job-consensus"),
    # Raw judgments (crowd-kit's task,worker,label) with the portal's session (web/client/exports.py).
    path("jobs/<id:job_id>/judgments/", exports.judgments_download, name="client-job-judgments"),
    path("billing/", billing.billing, name="client-billing"),
    # Qualifications of the organization: settings, exam questions, training set.
    *qualifications.urls_for("client"),
    # Workers' appeals in the organization's jobs (web/client/appeals.py).
    path("appeals/", appeals.appeals, name="client-appeals"),
    path("appeals/<id:appeal_id>/decide/", appeals.appeal_decide, name="client-appeal-decide"),
    # Webhooks: endpoints, each one's delivery log, redelivery.
    path("webhooks/", webhooks.webhook_list, name="client-webhooks"),
    path("webhooks/<id:endpoint_id>/", webhooks.webhook_page, name="client-webhook"),
    path("webhooks/<id:endpoint_id>/toggle/", webhooks.webhook_toggle, name="client-webhook-toggle"),
    path("webhooks/<id:endpoint_id>/rotate-secret/", webhooks.webhook_rotate, name="client-webhook-rotate"),
    path("webhooks/<id:endpoint_id>/delete/", webhooks.webhook_delete, name="client-webhook-delete"),
    path("webhooks/<id:endpoint_id>/deliveries/<id:delivery_id>/redeliver/", webhooks.webhook_redeliver,
         name="client-webhook-redeliver"),
]
