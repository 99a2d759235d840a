"""/api/v1/: every route of the REST API, one block per resource module of this package."""

from django.urls import path, re_path

from marketplace.api import (
    accounts,
    appeals,
    billing,
    billing_admin,
    browse,
    consensus,
    earnings,
    experts,
    exports,
    items,
    jobs,
    label_quality,
    predictions,
    qualifications as quals,
    quality,
    webhooks,
    work,
)

# Accounts, tokens and qualifications (api/accounts.py, api/qualifications.py).
_accounts = [
    path("auth/signup/", accounts.Signup.as_view(), name="auth-signup"),
    path("auth/token/", accounts.TokenObtain.as_view(), name="auth-token"),
    path("me/", accounts.Me.as_view(), name="me"),
    path("me/tokens/", accounts.MeTokens.as_view(), name="me-tokens"),
    path("me/tokens/<id:token_id>/", accounts.MeTokenDetail.as_view(), name="me-token-detail"),
    path("me/qualifications/", quals.MeQualifications.as_view(), name="me-qualifications"),
    path("admins/", accounts.Admins.as_view(), name="admin-create"),
    path("organization/members/", accounts.OrganizationMembers.as_view(), name="organization-members"),
    path("qualifications/", quals.QualificationListCreate.as_view(), name="qualification-list"),
    path("qualifications/<id:qualification_id>/", quals.QualificationDetail.as_view(),
         name="qualification-detail"),
    path("qualifications/<id:qualification_id>/questions/", quals.QualificationQuestions.as_view(),
         name="qualification-questions"),
    path("qualifications/<id:qualification_id>/exam/", quals.QualificationExam.as_view(),
         name="qualification-exam"),
    path("qualifications/<id:qualification_id>/grants/", quals.QualificationGrants.as_view(),
         name="qualification-grants"),
    path("qualifications/<id:qualification_id>/grants/<id:worker_id>/",
         quals.QualificationGrantDetail.as_view(), name="qualification-grant-detail"),
]

# Jobs (api/jobs.py); before them, the results export with consensus (api/exports.py), which
# answers jobs/<id>/results/ in place of the plain export routed among the items below.
_jobs = [
    path("jobs/<id:job_id>/results/", exports.JobResultsWithConsensus.as_view(), name="job-results"),
    path("jobs/", jobs.JobListCreate.as_view(), name="job-list"),
    path("jobs/<id:job_id>/", jobs.JobDetail.as_view(), name="job-detail"),
    path("jobs/<id:job_id>/instructions/", jobs.JobInstructionsEdit.as_view(), name="job-instructions"),
    # Only the lifecycle verbs: a catch-all <str:action> would swallow items/, gold/ and results/.
    re_path(
        r"^jobs/(?P<job_id>[0-9]+)/(?P<action>publish|pause|resume|cancel)/$",
        jobs.JobAction.as_view(),
        name="job-action",
    ),
]

# Items, gold items (api/items.py) and exports (api/exports.py).
_items = [
    path("jobs/<id:job_id>/items/", items.JobItems.as_view(), name="job-items"),
    path("jobs/<id:job_id>/items/delete/", items.JobItemsDelete.as_view(), name="job-items-delete"),
    path("jobs/<id:job_id>/items/<id:item_id>/", items.JobItemDetail.as_view(), name="job-item"),
    path("jobs/<id:job_id>/gold/", items.JobGoldItems.as_view(), name="job-gold"),
    path("jobs/<id:job_id>/gold/<id:item_id>/", items.JobGoldItemDetail.as_view(), name="job-gold-item"),
    path("jobs/<id:job_id>/results/", exports.JobResults.as_view(), name="job-results"),
    path("jobs/<id:job_id>/judgments/export/", exports.JobJudgmentsExport.as_view(),
         name="job-judgments-export"),
    path("jobs/<id:job_id>/predictions/", predictions.JobPredictions.as_view(), name="job-predictions"),
]

# The data browser (api/browse.py).
_browse = [
    path("jobs/<id:job_id>/browse/", browse.JobBrowse.as_view(), name="job-browse"),
    path("jobs/<id:job_id>/browse/export/", browse.JobBrowseExport.as_view(), name="job-browse-export"),
    path("jobs/<id:job_id>/browse/more-judgments/", browse.JobBrowseMoreJudgments.as_view(),
         name="job-browse-more-judgments"),
    path("jobs/<id:job_id>/browse/expert-review/", browse.JobBrowseExpertReview.as_view(),
         name="job-browse-expert-review"),
    path("jobs/<id:job_id>/browse/<id:item_id>/", browse.JobBrowseItem.as_view(), name="job-browse-item"),
]

# What a worker calls while labeling (api/work.py).
_work = [
    path("work/jobs/", work.WorkJobList.as_view(), name="work-jobs"),
    path("work/next/", work.WorkNext.as_view(), name="work-next"),
    path("work/leases/<id:lease_id>/", work.LeaseDetail.as_view(), name="work-lease"),
    path("work/leases/<id:lease_id>/submit/", work.LeaseSubmit.as_view(), name="work-lease-submit"),
    path("work/leases/<id:lease_id>/release/", work.LeaseRelease.as_view(), name="work-lease-release"),
    path("work/judgments/", work.MyJudgmentList.as_view(), name="work-judgments"),
    path("work/judgments/<id:judgment_id>/undo/", work.JudgmentUndo.as_view(), name="work-judgment-undo"),
]

# Consensus runs, worker quality and experts (api/consensus.py, api/quality.py, api/experts.py).
_quality = [
    path("jobs/<id:job_id>/consensus/", consensus.JobConsensusRuns.as_view(), name="job-consensus-runs"),
    path("jobs/<id:job_id>/consensus/<id:run_id>/", consensus.JobConsensusRunDetail.as_view(),
         name="job-consensus-run"),
    path("jobs/<id:job_id>/consensus/<id:run_id>/workers/", consensus.JobConsensusRunWorkers.as_view(),
         name="job-consensus-run-workers"),
    path("quality/workers/", quality.WorkerQualityList.as_view(), name="quality-workers"),
    path("quality/workers/<id:worker_id>/", quality.WorkerQualityDetail.as_view(), name="quality-worker"),
    path("jobs/<id:job_id>/workers/", quality.JobWorkerList.as_view(), name="job-workers"),
    path("jobs/<id:job_id>/label-quality/", label_quality.JobLabelQuality.as_view(),
         name="job-label-quality"),
    re_path(
        r"^jobs/(?P<job_id>[0-9]+)/workers/(?P<worker_id>[0-9]+)/(?P<action>block|unblock)/$",
        quality.WorkerBlockAction.as_view(),
        name="job-worker-block",
    ),
    path("me/quality/", quality.MyQuality.as_view(), name="me-quality"),
    path("expert/next/", experts.ExpertNext.as_view(), name="expert-next"),
    path("expert/reviews/<id:review_id>/", experts.ExpertReviewDetail.as_view(), name="expert-review"),
    path("expert/reviews/<id:review_id>/settle/", experts.ExpertReviewSettle.as_view(),
         name="expert-review-settle"),
    path("jobs/<id:job_id>/expert-reviews/", experts.JobExpertReviews.as_view(), name="job-expert-reviews"),
]

# Billing: clients, admins, workers (api/billing.py, api/billing_admin.py, api/earnings.py).
_billing = [
    path("quotes/", billing.QuoteView.as_view(), name="quotes"),
    path("billing/", billing.BillingOverview.as_view(), name="billing"),
    path("billing/invoices/", billing.MonthlyInvoice.as_view(), name="billing-invoice-month"),
    path("jobs/<id:job_id>/invoice/", billing.JobInvoice.as_view(), name="job-invoice"),
    path("jobs/<id:job_id>/escrow/", billing.JobEscrowAdd.as_view(), name="job-escrow-add"),
    path("admin/topups/", billing_admin.TopupCreate.as_view(), name="admin-topups"),
    path("admin/payout-batches/", billing_admin.PayoutBatchListCreate.as_view(), name="admin-payout-batches"),
    re_path(
        r"^admin/payout-batches/(?P<batch_id>[0-9]+)/(?P<action>approve|reject|paid)/$",
        billing_admin.PayoutBatchAction.as_view(),
        name="admin-payout-batch-action",
    ),
    path("admin/payout-batches/<id:batch_id>/export/", billing_admin.PayoutBatchExport.as_view(),
         name="admin-payout-batch-export"),
    re_path(
        r"^admin/invoices/(?P<number>[A-Za-z0-9_-]+)/paid/$",
        billing_admin.InvoicePaid.as_view(),
        name="admin-invoice-paid",
    ),
    path("me/earnings/", earnings.MyEarnings.as_view(), name="me-earnings"),
    path("me/payouts/", earnings.MyPayouts.as_view(), name="me-payouts"),
    path("me/appeals/", appeals.MyAppeals.as_view(), name="me-appeals"),
]

# Webhook endpoints and their delivery log (api/webhooks.py).
_webhooks = [
    path("webhooks/", webhooks.Webhooks.as_view(), name="webhook-list"),
    path("webhooks/<id:endpoint_id>/", webhooks.WebhookDetail.as_view(), name="webhook-detail"),
    path("webhooks/<id:endpoint_id>/rotate-secret/", webhooks.WebhookSecretRotate.as_view(),
         name="webhook-rotate-secret"),
    path("webhooks/<id:endpoint_id>/deliveries/", webhooks.WebhookDeliveries.as_view(), name="webhook-deliveries"),
    path("webhooks/<id:endpoint_id>/deliveries/<id:delivery_id>/", webhooks.WebhookDeliveryDetail.as_view(),
         name="webhook-delivery"),
    path("webhooks/<id:endpoint_id>/deliveries/<id:delivery_id>/redeliver/",
         webhooks.WebhookDeliveryRedeliver.as_view(), name="webhook-delivery-redeliver"),
]

# The worker's calls first: one per judgment, the API's most frequent (their work/ prefix is theirs alone).
urlpatterns = _work + _accounts + _jobs + _items + _browse + _quality + _billing + _webhooks
