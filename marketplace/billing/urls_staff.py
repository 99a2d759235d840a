"""Staff portal pages for jobs, payouts, client money and the billing audit, under /staff/ (admins only)."""

from django.urls import path

from marketplace.billing import views_staff as views
from marketplace.billing import views_staff_clients as clients

urlpatterns = [
    path("jobs/", views.jobs, name="staff-jobs"),
    path("payouts/", views.payout_list, name="staff-payouts"),
    path("payouts/batches/", views.payout_batch_create, name="staff-payout-batch-create"),
    path("payouts/<int:batch_id>/", views.payout_detail, name="staff-payout"),
    path("payouts/<int:batch_id>/export/", views.payout_export, name="staff-payout-export"),
    path("payouts/<int:batch_id>/approve/", views.payout_action, {"action": "approve"}, name="staff-payout-approve"),
    path("payouts/<int:batch_id>/reject/", views.payout_action, {"action": "reject"}, name="staff-payout-reject"),
    path("payouts/<int:batch_id>/paid/", views.payout_action, {"action": "paid"}, name="staff-payout-paid"),
    path("audit/", views.audit_page, name="staff-audit"),
    path("clients/", clients.clients, name="staff-clients"),
    path("clients/<int:organization_id>/topup/", clients.topup, name="staff-topup"),
]
