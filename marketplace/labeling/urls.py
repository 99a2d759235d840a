"""Worker portal pages at /work/: the work list and the labeling page (with its JSON calls)."""

from django.urls import path

from marketplace.labeling import views

urlpatterns = [
    path("", views.work_list, name="work-list"),
    path("exams/<int:qualification_id>/", views.work_exam, name="work-exam"),
    path("label/", views.work_label_any, name="work-label-any"),
    path("jobs/<int:job_id>/label/", views.work_label, name="work-label"),
    path("jobs/<int:job_id>/label/next/", views.label_next, name="work-label-next"),
    path("leases/<int:lease_id>/answer/", views.label_answer, name="work-label-answer"),
    path("leases/<int:lease_id>/skip/", views.label_skip, name="work-label-skip"),
]
