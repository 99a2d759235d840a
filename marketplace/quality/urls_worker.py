"""Worker portal: the worker's own quality figures, at /work/quality/."""

from django.urls import path

from marketplace.quality import views_worker

urlpatterns = [
    path("quality/", views_worker.quality, name="worker-quality"),
]
