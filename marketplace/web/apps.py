from django.apps import AppConfig


class WebConfig(AppConfig):
    """The portal's pages: no models; an app so that Django finds its template tags."""

    name = "marketplace.web"
    label = "web"
