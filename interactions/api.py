"""REST API v1 for touchpoints: push one, push many, list and read."""

from typing import Any

import django_filters
from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.rest.fields import AwareDateTimeField, Text, check_text
from config.rest.filters import UtcIsoDateTimeFilter
from config.rest.pagination import ID_PATTERN, NewestFirst
from config.rest.pushing import (
    BULK_MAX_ITEMS,
    BulkResponseSerializer,
    DuplicateSerializer,
    Pushed,
    PushedRecord,
    bulk_items,
    bulk_response,
    reused,
    single_response,
)
from config.rest.scopes import Scope
from interactions.models import SUMMARY_MAX_LENGTH, Channel, Direction, Interaction, RatingScale
from interactions.services import ItemResult, TouchpointIn, interactions_record_many


@extend_schema_field(
    {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "minLength": 1, "maxLength": 200}]}
)
class IdOrExternalIdField(serializers.Field):
    default_error_messages = {"invalid": "Give the complaint's id (a number) or its external id (text)."}

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, int) and not isinstance(data, bool) and 0 < data < 2**63:
            return data
        if isinstance(data, str) and 0 < len(data.strip()) <= 200:
            check_text(data)
            return data.strip()
        self.fail("invalid")
        raise AssertionError("unreachable")  # pragma: no cover

    def to_representation(self, value: Any) -> Any:
        return value


class TouchpointSerializer(PushedRecord):
    """One touchpoint as other systems send it (also a row of an import file)."""

    customer_ref = Text(
        required=False, max_length=100, help_text="Customer's reference in your system; created when new."
    )
    customer_name = Text(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Name for a new customer (required when customer_ref is new).",
    )
    channel = serializers.ChoiceField(choices=Channel.choices)
    direction = serializers.ChoiceField(choices=Direction.choices, default=Direction.INBOUND)
    stage = serializers.SlugField(
        required=False, max_length=32, help_text="Journey stage key; defaults to the channel's stage."
    )
    valence = serializers.IntegerField(min_value=-2, max_value=2, help_text="How it felt: -2 very bad .. 2 very good.")
    intensity = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=5, help_text="1 faint .. 5 vivid; channel default."
    )
    occurred_at = AwareDateTimeField(help_text="When it happened, with time zone (ISO 8601).")
    summary = Text(required=False, allow_blank=True, max_length=SUMMARY_MAX_LENGTH, default="")
    staff = Text(required=False, max_length=150, help_text="Username of the staff member.")
    rating = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10)
    rating_scale = serializers.ChoiceField(choices=RatingScale.choices, required=False, allow_blank=True)
    resolves = IdOrExternalIdField(required=False, help_text="The complaint this recovers: id or external_id.")
    resolved_on_first_contact = serializers.BooleanField(required=False, default=False)
    journey_ref = Text(
        required=False, allow_blank=True, max_length=100, help_text="Episode id in your system (order, ticket)."
    )


def touchpoints_from(valid: list[dict[str, Any]], staff: dict[str, User]) -> list[TouchpointIn]:
    return [
        TouchpointIn(
            customer_id=data.get("customer"),
            customer_ref=data.get("customer_ref", ""),
            customer_name=data.get("customer_name", ""),
            channel=data["channel"],
            direction=data["direction"],
            stage=data.get("stage"),
            valence=data["valence"],
            intensity=data.get("intensity"),
            occurred_at=data["occurred_at"],
            summary=data.get("summary", ""),
            staff=staff.get(data.get("staff", "")),
            rating=data.get("rating"),
            rating_scale=data.get("rating_scale", ""),
            resolves=data.get("resolves"),
            resolved_on_first_contact=data.get("resolved_on_first_contact", False),
            journey_ref=data.get("journey_ref", ""),
            source=data["source"],
            external_id=data["external_id"],
        )
        for data in valid
    ]


def pushed(result: ItemResult) -> Pushed:
    stored = result.interaction
    return Pushed(result.status, stored.pk if stored else None, stored.customer_id if stored else None, result.errors)


def record_payloads(
    payloads: list[Any], *, refresh_memory: bool = True, notify_webhooks: bool = True
) -> list[ItemResult]:
    """Parse and record many touchpoints; a malformed one is reported, not fatal."""
    results: list[ItemResult | None] = [None] * len(payloads)
    valid: list[tuple[int, dict[str, Any]]] = []
    parser = reused(TouchpointSerializer)
    for index, payload in enumerate(payloads):
        try:
            valid.append((index, parser.run_validation(payload)))
        except serializers.ValidationError as exc:
            errors = serializers.as_serializer_error(exc)
            results[index] = ItemResult("error", errors={k: [str(m) for m in v] for k, v in errors.items()})
    usernames = {data["staff"] for _, data in valid if data.get("staff")}
    staff = {u.username: u for u in User.objects.filter(username__in=usernames, is_active=True)}
    recordable = []
    for index, data in valid:
        if data.get("staff") and data["staff"] not in staff:
            results[index] = ItemResult("error", errors={"staff": [f"No active staff member {data['staff']!r}."]})
        else:
            recordable.append((index, data))
    recorded = interactions_record_many(
        items=touchpoints_from([data for _, data in recordable], staff),
        refresh_memory=refresh_memory,
        notify_webhooks=notify_webhooks,
    )
    for (index, _), result in zip(recordable, recorded, strict=True):
        results[index] = result
    return [r for r in results if r is not None]


class InteractionSerializer(serializers.ModelSerializer):
    customer_ref = serializers.CharField(source="customer.ref", read_only=True)
    journey_ref = serializers.CharField(source="journey.ref", read_only=True)
    stage: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="key", read_only=True)
    staff: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    # Declared: DRF drops allow_blank from read-only model fields, and "" means "no rating".
    rating_scale = serializers.ChoiceField(choices=RatingScale.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Interaction
        fields = [
            "id",
            "customer",
            "customer_ref",
            "journey",
            "journey_ref",
            "channel",
            "direction",
            "stage",
            "valence",
            "intensity",
            "occurred_at",
            "staff",
            "summary",
            "rating",
            "rating_scale",
            "resolves",
            "resolved_on_first_contact",
            "source",
            "external_id",
            "created_at",
        ]
        read_only_fields = fields


@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "maxItems": BULK_MAX_ITEMS,
        "items": {
            "description": "A touchpoint, as for POST /api/v1/interactions/. An invalid item is not "
            "refused with the request: it is reported in `results` with its field errors."
        },
    }
)
class BulkItemsField(serializers.ListField):
    pass


class BulkRequestSerializer(serializers.Serializer):
    items = BulkItemsField(help_text=f"1 to {BULK_MAX_ITEMS} touchpoints.")


class InteractionFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id")
    journey = django_filters.NumberFilter(field_name="journey_id")
    customer_ref = django_filters.CharFilter(field_name="customer__ref")
    stage = django_filters.CharFilter(field_name="stage__key")
    segment = django_filters.CharFilter(field_name="customer__segment__name")
    staff = django_filters.CharFilter(field_name="staff__username")
    occurred_after = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Interaction
        fields = ["customer", "customer_ref", "channel", "stage", "segment", "staff", "source", "journey"]


EXAMPLE_TOUCHPOINT = {
    "customer_ref": "ACME-001",
    "customer_name": "Acme Ltd",
    "channel": "complaint",
    "valence": -2,
    "occurred_at": "2026-11-20T09:30:00Z",
    "summary": "Invoice charged twice",
    "source": "helpdesk",
    "external_id": "ticket-4711",
}


@extend_schema(tags=["interactions"])
class InteractionViewSet(viewsets.ReadOnlyModelViewSet):
    """Touchpoints: push them (push or full keys), list and read them (read or full)."""

    lookup_value_regex = ID_PATTERN

    serializer_class = InteractionSerializer
    filterset_class = InteractionFilter
    pagination_class = NewestFirst
    read_permission = "interactions.view_interaction"
    write_permission = "interactions.add_interaction"
    write_scope = Scope.PUSH

    def get_queryset(self) -> QuerySet[Interaction]:
        return Interaction.objects.select_related("customer", "journey", "stage", "staff")

    @extend_schema(
        request=TouchpointSerializer,
        responses={
            201: InteractionSerializer,
            200: PolymorphicProxySerializer(
                component_name="RepeatedPush",
                serializers=[InteractionSerializer, DuplicateSerializer],
                resource_type_field_name=None,
            ),
        },
        examples=[OpenApiExample("A complaint from the helpdesk", value=EXAMPLE_TOUCHPOINT, request_only=True)],
        description=(
            "Record one touchpoint. 201 with the stored item when new; 200 when source + external_id "
            "were seen before (a retry never creates a duplicate): with the stored item for keys that may "
            "read (read or full scope) and staff, and only {id, status: duplicate} for push keys."
        ),
    )
    def create(self, request: Request) -> Response:
        [result] = record_payloads([request.data])
        # A new row is answered as recorded (customer, journey, stage and staff are at hand);
        # a repeat is read back with them.
        created = result.interaction if result.status == "created" else None
        return single_response(
            request,
            pushed(result),
            lambda pk: reused(InteractionSerializer).to_representation(created or self.get_queryset().get(pk=pk)),
        )

    @extend_schema(
        request=BulkRequestSerializer,
        responses={200: BulkResponseSerializer},
        description=(
            f"Record up to {BULK_MAX_ITEMS} touchpoints. Every valid item is stored; each invalid one is "
            "reported by index with its field errors; repeats are reported as duplicates (with their "
            "customer only to keys that may read)."
        ),
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        items = bulk_items(request)
        if isinstance(items, Response):
            return items
        return bulk_response(request, [pushed(r) for r in record_payloads(items)])
