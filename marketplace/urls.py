from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from marketplace import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # The portal: public and account pages, then one prefix per audience.
    path("", include("marketplace.accounts.urls")),
    path("portal/", views.portal, name="portal"),
    path("portal/", include("marketplace.jobs.urls")),
    path("portal/billing/", include("marketplace.billing.urls_client")),
    path("work/", include("marketplace.labeling.urls")),
    path("work/", include("marketplace.billing.urls_worker")),
    path("work/", include("marketplace.quality.urls_worker")),
    path("staff/", include("marketplace.quality.urls")),
    path("staff/", include("marketplace.billing.urls_staff")),
    # The admin's own password change is the portal's, which also revokes the admin's API tokens.
    path("admin/password_change/", RedirectView.as_view(pattern_name="password_change")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("marketplace.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file (?script): the CSP forbids inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = "marketplace.views.not_found"
handler500 = "marketplace.views.server_error"
