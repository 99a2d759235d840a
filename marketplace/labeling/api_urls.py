"""/api/v1/work/: what a worker calls while labeling."""

from django.urls import path

from marketplace.labeling import api

urlpatterns = [
    path("work/jobs/", api.WorkJobList.as_view(), name="work-jobs"),
    path("work/next/", api.WorkNext.as_view(), name="work-next"),
    path("work/leases/<int:lease_id>/", api.LeaseDetail.as_view(), name="work-lease"),
    path("work/leases/<int:lease_id>/submit/", api.LeaseSubmit.as_view(), name="work-lease-submit"),
    path("work/leases/<int:lease_id>/release/", api.LeaseRelease.as_view(), name="work-lease-release"),
    path("work/judgments/", api.MyJudgmentList.as_view(), name="work-judgments"),
]
