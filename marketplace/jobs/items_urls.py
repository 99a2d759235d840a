"""/api/v1/jobs/<job_id>/…: items, gold items and exports (views in jobs/api_items.py)."""

from django.urls import path

from marketplace.jobs import api_items as views

urlpatterns = [
    path("jobs/<int:job_id>/items/", views.JobItems.as_view(), name="job-items"),
    path("jobs/<int:job_id>/items/<int:item_id>/", views.JobItemDetail.as_view(), name="job-item"),
    path("jobs/<int:job_id>/gold/", views.JobGoldItems.as_view(), name="job-gold"),
    path(
        "jobs/<int:job_id>/gold/<int:item_id>/",
        views.JobGoldItemDetail.as_view(),
        name="job-gold-item",
    ),
    path("jobs/<int:job_id>/results/", views.JobResults.as_view(), name="job-results"),
    path(
        "jobs/<int:job_id>/judgments/export/",
        views.JobJudgmentsExport.as_view(),
        name="job-judgments-export",
    ),
]
