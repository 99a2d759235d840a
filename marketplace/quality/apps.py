from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "marketplace.quality"
    label = "quality"

    def ready(self) -> None:
        # Dynamic jobs pass over workers they expect to be near chance (quality/serving.py); the
        # claim lives below quality, so the rule is handed to it here.
        from marketplace.labeling.gates import gate_register
        from marketplace.quality.serving import dynamic_gate

        gate_register(dynamic_gate)
