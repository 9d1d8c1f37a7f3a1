"""/api/v1/: the versioned REST API, its OpenAPI schema and interactive docs."""

from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from customers.api import CustomerViewSet
from interactions.api import InteractionViewSet
from journeys.api import JourneyViewSet


class SchemaView(SpectacularAPIView):
    # Any valid key or signed-in person with a role may read the contract.
    read_permission = "customers.view_customer"


class DocsView(SpectacularSwaggerSplitView):
    # The split view serves its script as a file: the page needs no inline script (CSP).
    read_permission = "customers.view_customer"


app_name = "api"
router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("interactions", InteractionViewSet, basename="interaction")
router.register("customers", CustomerViewSet, basename="customer")
router.register("journeys", JourneyViewSet, basename="journey")

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", login_required(DocsView.as_view(url_name="api:schema")), name="docs"),
    path("", include(router.urls)),
]
