"""REST API v1 for customers and what they will remember."""

from datetime import timedelta
from typing import Any

import django_filters
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from config.rest.filters import TrueFalseFilter, is_true
from config.rest.pagination import ID_PATTERN, ById
from customers.models import Customer
from memory.explain import explain
from memory.models import Band, CustomerMemory, ScoreSnapshot
from memory.selectors import DIVERGENCE_POINTS, remembered_worse_than_lived

HISTORY_DAYS = 365


class MemorySummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomerMemory
        fields = ["score", "band", "lived_score", "trend_7d", "trend_30d", "score_as_of", "last_interaction_at"]


class CustomerSerializer(serializers.ModelSerializer):
    segment: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    owner: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    # Plain text: an empty address is allowed, which an "email" format would not describe.
    email = serializers.CharField(read_only=True)
    memory = MemorySummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "ref",
            "name",
            "kind",
            "email",
            "company",
            "segment",
            "owner",
            "notes",
            "memory",
            "churned_at",
            "created_at",
        ]
        read_only_fields = fields


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScoreSnapshot
        fields = ["day", "score", "band"]


class DriverSerializer(serializers.Serializer):
    interaction = serializers.IntegerField(help_text="Id of the touchpoint.")
    occurred_at = serializers.DateTimeField()
    channel = serializers.CharField()
    valence = serializers.IntegerField()
    summary = serializers.CharField()
    points = serializers.FloatField(
        help_text="Score with this touchpoint minus the score without it (leave-one-out), read now."
    )


class ChangeSerializer(serializers.Serializer):
    since = serializers.DateField(help_text="Day of the latest earlier snapshot.")
    score_then = serializers.FloatField()
    score_now = serializers.FloatField()
    fading = serializers.FloatField(help_text="Points the same history lost (or regained) by fading since then.")
    new_touchpoints = serializers.FloatField(help_text="Points the touchpoints dated after `since` account for.")
    drivers = DriverSerializer(many=True, help_text="The newer touchpoints that moved it most.")


class MemoryDetailSerializer(serializers.Serializer):
    customer = serializers.IntegerField()
    score = serializers.FloatField()
    band = serializers.ChoiceField(choices=Band.choices)
    trend_7d = serializers.FloatField(allow_null=True)
    trend_30d = serializers.FloatField(allow_null=True)
    score_as_of = serializers.DateTimeField(allow_null=True)
    lived_score = serializers.FloatField(
        allow_null=True, help_text="What the customer lived through: recency-weighted average, 0..100, 50 neutral."
    )
    lived_gap = serializers.FloatField(
        allow_null=True, help_text="score - lived_score: negative when remembered worse than lived."
    )
    explanation = serializers.ListField(child=serializers.CharField())
    drivers = DriverSerializer(many=True, help_text="The touchpoints whose removal would move the score most.")
    change = ChangeSerializer(allow_null=True, help_text="Why the score moved since the latest earlier snapshot.")
    breakdown = serializers.JSONField(
        help_text="value, decay, peak and end moments, top journeys, per-stage values, components."
    )
    history = SnapshotSerializer(many=True)


class CustomerFilter(django_filters.FilterSet):
    segment = django_filters.CharFilter(field_name="segment__name")
    owner = django_filters.CharFilter(field_name="owner__username")
    band = django_filters.ChoiceFilter(field_name="memory__band", choices=Band.choices)
    score_min = django_filters.NumberFilter(field_name="memory_score", lookup_expr="gte")
    score_max = django_filters.NumberFilter(field_name="memory_score", lookup_expr="lte")
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")
    churned = TrueFalseFilter(method="filter_churned", label="Churned (true) or not (false)")
    remembered_worse_than_lived = TrueFalseFilter(
        method="filter_remembered_worse",
        label=f"Remembered at least {DIVERGENCE_POINTS:.0f} points worse than lived (true) or not (false)",
    )

    def filter_churned(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        return queryset.filter(churned_at__isnull=not is_true(value))

    def filter_remembered_worse(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        worse = remembered_worse_than_lived()
        return queryset.filter(worse) if is_true(value) else queryset.exclude(worse)

    class Meta:
        model = Customer
        fields = ["ref", "kind", "segment", "owner", "band"]


@extend_schema(tags=["customers"])
class CustomerViewSet(viewsets.ReadOnlyModelViewSet):
    """Customers with their memory score, band and 7/30-day trend (read or full keys)."""

    lookup_value_regex = ID_PATTERN

    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["memory_score", "name", "id"]
    ordering = ["id"]
    pagination_class = ById
    read_permission = "customers.view_customer"

    def get_queryset(self) -> QuerySet[Customer]:
        # Customers not scored yet sort as neutral (50) rather than as missing.
        # The memory's running state and breakdown (kilobytes of JSON each) are not part of
        # a customer in a list.
        customers = Customer.objects.select_related("segment", "owner", "memory").defer(
            "memory__state", "memory__breakdown"
        )
        if self.request.query_params.get("band"):
            # Everyone in a band has a memory: order by the column itself, which the
            # (band, score) index serves (at 100k customers 165 ms -> 6 ms for a page).
            return customers.annotate(memory_score=F("memory__score"))
        return customers.annotate(memory_score=Coalesce("memory__score", Value(50.0)))

    @extend_schema(responses={200: MemoryDetailSerializer})
    @action(detail=True, methods=["get"])
    def memory(self, request: Request, pk: Any = None) -> Response:
        """Score, band, the breakdown (peak, end, components, per-stage values) and history."""
        customer = self.get_object()
        memory = CustomerMemory.objects.filter(customer=customer).first()
        since = timezone.now().date() - timedelta(days=HISTORY_DAYS)
        history = ScoreSnapshot.objects.filter(customer=customer, day__gte=since).order_by("day")
        explanation = explain(memory)
        body = {
            "customer": customer.pk,
            "score": memory.score if memory else 50.0,
            "band": memory.band if memory else Band.NEUTRAL,
            "trend_7d": memory.trend_7d if memory else None,
            "trend_30d": memory.trend_30d if memory else None,
            "score_as_of": memory.score_as_of if memory else None,
            "explanation": explanation.sentences,
            **explanation.as_data(),
            "breakdown": memory.breakdown if memory else {},
            "history": SnapshotSerializer(history, many=True).data,
        }
        return Response(MemoryDetailSerializer(body).data)
