"""REST API v1 for journeys (episodes) and their remembered values."""

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets

from config.rest.filters import TrueFalseFilter, is_true
from config.rest.pagination import ID_PATTERN, JourneysNewestFirst
from journeys.models import CloseReason, Journey


class JourneySerializer(serializers.ModelSerializer):
    customer_ref = serializers.CharField(source="customer.ref", read_only=True)
    # Declared: DRF drops allow_blank from read-only model fields, and "" means "still open".
    close_reason = serializers.ChoiceField(choices=CloseReason.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Journey
        fields = [
            "id",
            "customer",
            "customer_ref",
            "ref",
            "started_at",
            "last_interaction_at",
            "closed_at",
            "close_reason",
            "interaction_count",
            "remembered_value",
            "salience",
            "peak_interaction",
            "end_interaction",
        ]
        read_only_fields = fields


class JourneyFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id")
    customer_ref = django_filters.CharFilter(field_name="customer__ref")
    open = TrueFalseFilter(method="filter_open", label="Still open")

    def filter_open(self, queryset: QuerySet[Journey], name: str, value: str) -> QuerySet[Journey]:
        return queryset.filter(closed_at__isnull=is_true(value))

    class Meta:
        model = Journey
        fields = ["customer", "customer_ref", "ref", "open"]


@extend_schema(tags=["journeys"])
class JourneyViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = ID_PATTERN
    serializer_class = JourneySerializer
    filterset_class = JourneyFilter
    pagination_class = JourneysNewestFirst
    read_permission = "journeys.view_journey"

    def get_queryset(self) -> QuerySet[Journey]:
        return Journey.objects.select_related("customer")
