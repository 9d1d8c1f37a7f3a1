from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "integrations"

    def ready(self) -> None:
        from integrations import schema  # noqa: F401 - registers the OpenAPI auth extension
        from integrations.services import keep_subscriptions_current

        keep_subscriptions_current()
