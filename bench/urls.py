"""The product's URLs plus the benchmark's reference views (bench/settings.py only)."""

from django.urls import path

from bench import views
from config.urls import handler400, handler404
from config.urls import urlpatterns as product_urlpatterns

urlpatterns = [*product_urlpatterns, path("bench/json/", views.bare_json), path("bench/insert/", views.bare_insert)]

__all__ = ["handler400", "handler404", "urlpatterns"]
