from django.contrib import admin
from django.urls import include, path, re_path, register_converter
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from marketplace.api.notfound import api_not_found
from marketplace.pathids import IdConverter
from marketplace.web.public import site

# Before any URL module is read: they name ids as <id:...> (pathids.py says why not <int:>).
register_converter(IdConverter, "id")

urlpatterns = [
    # The API first: Django tries patterns in order, and a worker's submit (the request a crowd
    # sends most) came after the portal's and admin's 320 patterns, each tried and listed in the
    # miss's "tried" record. No other pattern starts with api/v1/, so nothing else moves.
    path("api/v1/", include("marketplace.api.urls")),
    path("", site.home, name="home"),
    path("healthz", site.healthz, name="healthz"),
    # The portal: public and account pages, then one prefix per audience.
    path("", include("marketplace.web.public.urls")),
    path("portal/", site.portal, name="portal"),
    path("portal/", include("marketplace.web.client.urls")),
    path("work/", include("marketplace.web.worker.urls")),
    path("staff/", include("marketplace.web.staff.urls")),
    # The admin's own password change is the portal's, which also revokes the admin's API tokens.
    path("admin/password_change/", RedirectView.as_view(pattern_name="password_change")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file (?script): the CSP forbids inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Last: any /api/ path nothing above matched answers the JSON 404, with DEBUG on too
    # (api/notfound.py). Every /api/ prefix (v1, schema, docs) is above, so it shadows none.
    re_path(r"^api/", api_not_found, name="api-not-found"),
]

handler404 = "marketplace.web.public.site.not_found"
handler500 = "marketplace.web.public.site.server_error"
