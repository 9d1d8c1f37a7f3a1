from django.apps import AppConfig


class InteractionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "interactions"

    def ready(self) -> None:
        # An app's modules load once the app registry is ready.
        from interactions.services.validation import keep_stage_tables_current

        keep_stage_tables_current()
