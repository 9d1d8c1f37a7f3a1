"""/api/v1/: the versioned REST API, its OpenAPI schema and interactive docs."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from customer_pages.api import CustomerViewSet
from interactions.api import InteractionViewSet
from journeys.api import JourneyViewSet
from outcomes.api import BacktestRunViewSet, OutcomeViewSet
from playbooks.api import TaskViewSet


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
router.register("outcomes", OutcomeViewSet, basename="outcome")
router.register("backtests", BacktestRunViewSet, basename="backtest")
router.register("tasks", TaskViewSet, basename="task")

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    # Swagger UI sets inline styles as it renders: the one relaxation of the CSP, for styles
    # only (never scripts), on a page for signed-in staff.
    path(
        "docs/",
        login_required(csp_update({"style-src": [UNSAFE_INLINE]})(DocsView.as_view(url_name="api:schema"))),
        name="docs",
    ),
    path("", include(router.urls)),
]
