from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    """Playbooks: when a memory goes wrong, the right person is asked to act (docs/playbooks.md)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "playbooks"
