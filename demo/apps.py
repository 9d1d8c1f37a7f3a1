from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo and scale data generators (seed_demo, seed_scale): apart from the product's
    apps, on top of all of them, so no product module depends on them."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "demo"
