from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "marketplace.labeling"
    label = "labeling"
