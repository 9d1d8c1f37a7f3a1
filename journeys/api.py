"""REST API v1 for journeys (episodes) and their remembered values."""

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets

from integrations.pagination import JourneysNewestFirst
from journeys.models import Journey


class JourneySerializer(serializers.ModelSerializer):
    customer_ref = serializers.CharField(source="customer.ref", read_only=True)

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
    customer_ref = django_filters.CharFilter(field_name="customer__ref")
    open = django_filters.BooleanFilter(field_name="closed_at", lookup_expr="isnull", label="Still open")

    class Meta:
        model = Journey
        fields = ["customer", "customer_ref", "ref", "open"]


@extend_schema(tags=["journeys"])
class JourneyViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = JourneySerializer
    filterset_class = JourneyFilter
    pagination_class = JourneysNewestFirst
    read_permission = "journeys.view_journey"

    def get_queryset(self) -> QuerySet[Journey]:
        return Journey.objects.select_related("customer")
