from django.apps import AppConfig


class CustomerPagesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "customer_pages"
