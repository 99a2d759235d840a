"""/api/v1/ routes of billing (views in billing/api_client.py, api_admin.py, api_worker.py)."""

from django.urls import path, re_path

from marketplace.billing import api_admin, api_client, api_worker

urlpatterns = [
    # Clients
    path("quotes/", api_client.QuoteView.as_view(), name="quotes"),
    path("billing/", api_client.BillingOverview.as_view(), name="billing"),
    path("billing/invoices/", api_client.MonthlyInvoice.as_view(), name="billing-invoice-month"),
    path("jobs/<int:job_id>/invoice/", api_client.JobInvoice.as_view(), name="job-invoice"),
    path("jobs/<int:job_id>/escrow/", api_client.JobEscrowAdd.as_view(), name="job-escrow-add"),
    # Admins
    path("admin/topups/", api_admin.TopupCreate.as_view(), name="admin-topups"),
    path("admin/payout-batches/", api_admin.PayoutBatchListCreate.as_view(), name="admin-payout-batches"),
    re_path(
        r"^admin/payout-batches/(?P<batch_id>[0-9]+)/(?P<action>approve|reject|paid)/$",
        api_admin.PayoutBatchAction.as_view(),
        name="admin-payout-batch-action",
    ),
    path(
        "admin/payout-batches/<int:batch_id>/export/",
        api_admin.PayoutBatchExport.as_view(),
        name="admin-payout-batch-export",
    ),
    re_path(
        r"^admin/invoices/(?P<number>[A-Za-z0-9_-]+)/paid/$",
        api_admin.InvoicePaid.as_view(),
        name="admin-invoice-paid",
    ),
    # Workers
    path("me/earnings/", api_worker.MyEarnings.as_view(), name="me-earnings"),
    path("me/payouts/", api_worker.MyPayouts.as_view(), name="me-payouts"),
]
