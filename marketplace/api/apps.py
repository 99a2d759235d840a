from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API: no models; an app so that its OpenAPI extensions register at start-up."""

    name = "marketplace.api"
    label = "api"

    def ready(self) -> None:
        # Registers the OpenAPI extension for bearer tokens (drf-spectacular finds it by import).
        from marketplace.api import auth_schema  # noqa: F401
        # Connects the swap of the database pool's per-checkout check (dbpool.check_idle) in
        # every process, before its first connection: not only where the middleware is loaded.
        from marketplace import dbpool  # noqa: F401
