"""REST API v1 for outcomes: push one, push many (idempotent like touchpoints), list, read."""

import django_filters
from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.rest.fields import AwareDateTimeField, StrictBoolean
from config.rest.filters import UtcIsoDateTimeFilter
from config.rest.pagination import ID_PATTERN, LatestFirst, NewestFirst
from config.rest.pushing import (
    BULK_MAX_ITEMS,
    BulkResponseSerializer,
    DuplicateSerializer,
    bulk_items,
    bulk_response,
    single_response,
)
from config.rest.scopes import Scope
from outcomes.models import BacktestRun, Outcome
from outcomes.payloads import OutcomeInSerializer, record_outcome_payloads
from outcomes.services import backtest_run_create
from outcomes.tasks import schedule_backtest


class OutcomeSerializer(serializers.ModelSerializer):
    customer_ref = serializers.CharField(source="customer.ref", read_only=True)

    class Meta:
        model = Outcome
        fields = [
            "id",
            "customer",
            "customer_ref",
            "kind",
            "occurred_at",
            "note",
            "source",
            "external_id",
            "created_at",
        ]
        read_only_fields = fields


class OutcomeBulkRequestSerializer(serializers.Serializer):
    items = serializers.ListField(
        min_length=1,
        max_length=BULK_MAX_ITEMS,
        help_text=f"1 to {BULK_MAX_ITEMS} outcomes, each as for POST /api/v1/outcomes/; an invalid item is "
        "reported in `results`, not refused with the request.",
    )


def _person(request: Request) -> User | None:
    """The signed-in person who sent it; None for an API key."""
    return request.user if isinstance(request.user, User) and request.user.is_authenticated else None


class OutcomeFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id")
    customer_ref = django_filters.CharFilter(field_name="customer__ref")
    occurred_after = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Outcome
        fields = ["customer", "customer_ref", "kind", "source"]


@extend_schema(tags=["outcomes"])
class OutcomeViewSet(viewsets.ReadOnlyModelViewSet):
    """What happened to customers (renewed, expanded, downgraded, churned): push them (push
    or full keys), list and read them (read or full)."""

    lookup_value_regex = ID_PATTERN
    serializer_class = OutcomeSerializer
    filterset_class = OutcomeFilter
    pagination_class = NewestFirst
    read_permission = "outcomes.view_outcome"
    write_permission = "outcomes.add_outcome"
    write_scope = Scope.PUSH

    def get_queryset(self) -> QuerySet[Outcome]:
        return Outcome.objects.select_related("customer")

    @extend_schema(
        request=OutcomeInSerializer,
        responses={
            201: OutcomeSerializer,
            200: PolymorphicProxySerializer(
                component_name="RepeatedOutcome",
                serializers=[OutcomeSerializer, DuplicateSerializer],
                resource_type_field_name=None,
            ),
        },
        description=(
            "Record one outcome for an existing customer. 201 when new; 200 when source + external_id were "
            "seen before (the stored item for keys that may read, {id, status: duplicate} for push keys). "
            "A churn marks the customer churned until a later renewal or expansion."
        ),
    )
    def create(self, request: Request) -> Response:
        [result] = record_outcome_payloads([request.data], recorded_by=_person(request))
        return single_response(request, result, lambda pk: OutcomeSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(
        request=OutcomeBulkRequestSerializer,
        responses={200: BulkResponseSerializer},
        description=f"Record up to {BULK_MAX_ITEMS} outcomes; each invalid one is reported by index.",
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        items = bulk_items(request)
        if isinstance(items, Response):
            return items
        return bulk_response(request, record_outcome_payloads(items, recorded_by=_person(request)))


class BacktestRequestSerializer(serializers.Serializer):
    cutoff = AwareDateTimeField(help_text="Scores from the touchpoints before it; outcomes in the window after.")
    window_days = serializers.IntegerField(min_value=7, max_value=730, default=90)
    rolling = StrictBoolean(default=False, help_text="Also at every quarter before the cut-off.")


class BacktestRunSerializer(serializers.ModelSerializer):
    reports = serializers.JSONField(
        read_only=True,
        help_text="One report per cut-off (the chosen one last): customers, churned, surveyed, per predictor "
        "spearman_survey / churn_auc / brier as {value, low, high, n} (95% bootstrap interval), at_risk_precision, "
        "at_risk_recall, deciles, enough_for_churn, enough_for_surveys, verdict.",
    )

    class Meta:
        model = BacktestRun
        fields = ["id", "cutoff", "window_days", "rolling", "status", "progress", "seconds", "problem", "reports"]
        read_only_fields = fields


@extend_schema(tags=["backtests"])
class BacktestRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Backtests of the memory score against outcomes: start one (full keys, managers), read
    its progress and report (read keys, managers)."""

    lookup_value_regex = ID_PATTERN
    serializer_class = BacktestRunSerializer
    pagination_class = LatestFirst
    read_permission = "outcomes.view_backtestrun"
    write_permission = "outcomes.add_backtestrun"

    def get_queryset(self) -> QuerySet[BacktestRun]:
        return BacktestRun.objects.all()

    @extend_schema(request=BacktestRequestSerializer, responses={202: BacktestRunSerializer})
    def create(self, request: Request) -> Response:
        """Queue a backtest; poll the returned run until its status is done."""
        parsed = BacktestRequestSerializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        run = backtest_run_create(created_by=_person(request), **parsed.validated_data)
        schedule_backtest(run)
        return Response(BacktestRunSerializer(run).data, status=202)
