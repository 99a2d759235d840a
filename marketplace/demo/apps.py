from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data and (later) the simulated crowd. Sits above every domain app and uses their services."""

    name = "marketplace.demo"
    label = "demo"
