"""Staff portal pages for worker quality, under /staff/ (admins only)."""

from django.urls import path

from marketplace.quality import views

urlpatterns = [
    path("workers/", views.workers, name="staff-workers"),
    path("workers/<int:worker_id>/", views.worker, name="staff-worker"),
    path("workers/<int:worker_id>/block/", views.worker_block, name="staff-worker-block"),
    path("workers/<int:worker_id>/unblock/", views.worker_unblock, name="staff-worker-unblock"),
]
