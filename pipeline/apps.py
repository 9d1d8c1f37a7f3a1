from django.apps import AppConfig


class PipelineConfig(AppConfig):
    """Installs the stages that follow every write (pipeline/stages.py) at start-up."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "pipeline"

    def ready(self) -> None:
        from pipeline import stages  # an app's modules load once the app registry is ready

        stages.install()
