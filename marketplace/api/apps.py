from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API: no models; an app so that its OpenAPI extensions register at start-up."""

    name = "marketplace.api"
    label = "api"

    def ready(self) -> None:
        # Registers the OpenAPI extension for bearer tokens (drf-spectacular finds it by import).
        from marketplace.api import auth_schema  # noqa: F401
