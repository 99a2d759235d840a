"""Worker portal: earnings and payout requests, at /work/earnings/."""

from django.urls import path

from marketplace.billing import views_worker

urlpatterns = [
    path("earnings/", views_worker.earnings, name="worker-earnings"),
]
