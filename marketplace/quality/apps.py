from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "marketplace.quality"
    label = "quality"
