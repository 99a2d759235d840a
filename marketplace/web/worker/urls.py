"""The worker portal at /work/: the work list, the labeling page (with its JSON calls), earnings
and payout requests, the worker's own quality figures."""

from django.urls import path

from marketplace.web.worker import appeals, earnings, exams, labeling, quality

urlpatterns = [
    path("", labeling.work_list, name="work-list"),
    path("exams/<id:qualification_id>/", exams.work_exam, name="work-exam"),
    path("exams/<id:qualification_id>/training/", exams.work_training, name="work-training"),
    path("label/", labeling.work_label_any, name="work-label-any"),
    path("jobs/<id:job_id>/label/", labeling.work_label, name="work-label"),
    path("jobs/<id:job_id>/label/next/", labeling.label_next, name="work-label-next"),
    path("leases/<id:lease_id>/answer/", labeling.label_answer, name="work-label-answer"),
    path("leases/<id:lease_id>/skip/", labeling.label_skip, name="work-label-skip"),
    path("judgments/<id:judgment_id>/undo/", labeling.label_undo, name="work-label-undo"),
    path("leases/return/", labeling.label_return, name="work-label-return"),  # a closed page's beacon
    path("leases/heartbeat/", labeling.label_heartbeat, name="work-label-heartbeat"),  # an open page's
    path("earnings/", earnings.earnings, name="worker-earnings"),
    path("quality/", quality.quality, name="worker-quality"),
    path("appeals/", appeals.appeals, name="worker-appeals"),
    path("appeals/new/", appeals.appeal_new, name="worker-appeal-new"),
]
