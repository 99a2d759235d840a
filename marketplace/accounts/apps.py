from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "marketplace.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Registers the OpenAPI extension for bearer tokens (drf-spectacular finds it by import).
        from marketplace.accounts import schema  # noqa: F401
