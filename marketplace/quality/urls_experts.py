"""/api/v1/ routes of quality: experts (views in quality/api_experts.py)."""

from django.urls import path

from marketplace.quality import api_experts as views

urlpatterns = [
    path("expert/next/", views.ExpertNext.as_view(), name="expert-next"),
    path("expert/reviews/<int:review_id>/", views.ExpertReviewDetail.as_view(), name="expert-review"),
    path(
        "expert/reviews/<int:review_id>/settle/",
        views.ExpertReviewSettle.as_view(),
        name="expert-review-settle",
    ),
    path("jobs/<int:job_id>/expert-reviews/", views.JobExpertReviews.as_view(), name="job-expert-reviews"),
]
