"""The staff portal under /staff/ (admins only): worker quality, jobs, payouts, client money and
the billing audit."""

from django.urls import path
from django.views.generic import RedirectView

from marketplace.web.access import staff_required
from marketplace.web.client import qualifications
from marketplace.web.staff import appeals, billing, clients, collusion, signups, workers

urlpatterns = [
    # /staff/ itself: the first page of the staff nav (a non-admin gets 404, as on every staff page).
    path("", staff_required(RedirectView.as_view(pattern_name="staff-workers")), name="staff-home"),
    path("workers/", workers.workers, name="staff-workers"),
    path("workers/<id:worker_id>/", workers.worker, name="staff-worker"),
    path("workers/<id:worker_id>/block/", workers.worker_block, name="staff-worker-block"),
    path("workers/<id:worker_id>/unblock/", workers.worker_unblock, name="staff-worker-unblock"),
    path("jobs/", billing.jobs, name="staff-jobs"),
    path("payouts/", billing.payout_list, name="staff-payouts"),
    path("payouts/batches/", billing.payout_batch_create, name="staff-payout-batch-create"),
    path("payouts/<id:batch_id>/", billing.payout_detail, name="staff-payout"),
    path("payouts/<id:batch_id>/export/", billing.payout_export, name="staff-payout-export"),
    path("payouts/<id:batch_id>/approve/", billing.payout_action, {"action": "approve"}, name="staff-payout-approve"),
    path("payouts/<id:batch_id>/reject/", billing.payout_action, {"action": "reject"}, name="staff-payout-reject"),
    path("payouts/<id:batch_id>/paid/", billing.payout_action, {"action": "paid"}, name="staff-payout-paid"),
    path("audit/", billing.audit_page, name="staff-audit"),
    path("clients/", clients.clients, name="staff-clients"),
    path("clients/<id:organization_id>/topup/", clients.topup, name="staff-topup"),
    path("signups/", signups.signups, name="staff-signups"),
    path("collusion/", collusion.flags, name="staff-collusion"),
    path("collusion/<id:flag_id>/review/", collusion.flag_review, name="staff-collusion-review"),
    # Platform-wide qualifications: the client portal's pages, for admins (web/client/qualifications.py).
    *qualifications.urls_for("staff"),
    # Appeals, held withdrawals and platform-wide suspension (web/staff/appeals.py).
    path("appeals/", appeals.appeals, name="staff-appeals"),
    path("appeals/<id:appeal_id>/decide/", appeals.appeal_decide, name="staff-appeal-decide"),
    path("withdrawals/<id:review_id>/decide/", appeals.withdrawal_decide, name="staff-withdrawal-decide"),
    path("workers/<id:worker_id>/suspend/", appeals.worker_suspend, name="staff-worker-suspend"),
    path("workers/<id:worker_id>/unsuspend/", appeals.worker_unsuspend, name="staff-worker-unsuspend"),
]
