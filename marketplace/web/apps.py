from django.apps import AppConfig


class WebConfig(AppConfig):
    """The portal's pages: no models; an app so that Django finds its template tags."""

    name = "marketplace.web"
    label = "web"

    def ready(self) -> None:
        # Registers check --deploy's warning about a QUORUM_SITE_URL people cannot reach.
        from marketplace import siteurl  # noqa: F401
