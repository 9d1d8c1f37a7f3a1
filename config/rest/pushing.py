"""What every push endpoint answers (touchpoints, outcomes): one item, or a bulk batch in
which a bad item is reported by its index and never fails the others."""

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.rest.fields import Text
from config.rest.scopes import Scope, ScopedCredential

BULK_MAX_ITEMS = 1000
Status = Literal["created", "duplicate", "error"]

SerializerT = TypeVar("SerializerT", bound=serializers.Serializer)
_this_thread = threading.local()


def reused(serializer_class: type[SerializerT]) -> SerializerT:
    """This thread's instance of a serializer used only to validate (`run_validation`) or
    to render (`to_representation`), which change nothing in it. Building one copies all
    its declared fields (a model serializer also reads the model's), about 0.6 ms: more
    than validating a touchpoint. Per thread, as the development server serves requests
    on threads."""
    made: dict[type[serializers.Serializer], serializers.Serializer] = _this_thread.__dict__.setdefault(
        "serializers", {}
    )
    if serializer_class not in made:
        made[serializer_class] = serializer_class()
    return made[serializer_class]  # type: ignore[return-value]  # keyed by its own class


class PushedRecord(serializers.Serializer):
    """What every pushed record carries: its customer (id or reference) and the retry key.
    Subclasses add their own fields; `customer_ref` says more for the kinds that create."""

    customer = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, help_text="Customer id.")
    customer_ref = Text(required=False, max_length=100, help_text="Customer's reference in your system.")
    source = Text(  # type: ignore[assignment]  # a field named like Field.source
        max_length=50, help_text="Your system's name; with external_id, the retry key."
    )
    external_id = Text(max_length=200, help_text="Your id for this record (a ticket, a contract).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "customer" not in attrs and not attrs.get("customer_ref"):
            raise serializers.ValidationError({"customer_ref": ["Give customer_ref or customer (id)."]})
        return attrs


@dataclass(frozen=True)
class Pushed:
    """One item's fate: its status, the stored row's id and customer, or its field errors."""

    status: Status
    id: int | None = None
    customer: int | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


class DuplicateSerializer(serializers.Serializer):
    """What a key that may not read learns of a repeat: that it is one, and its id."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["duplicate"])


class BulkItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "error"])
    id = serializers.IntegerField(allow_null=True)
    customer = serializers.IntegerField(allow_null=True)
    errors = serializers.DictField(  # type: ignore[assignment]  # the field, not Serializer.errors
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class BulkResponseSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = serializers.IntegerField()  # type: ignore[assignment]  # the field, not Serializer.errors
    results = BulkItemResultSerializer(many=True)


def may_read(request: Request) -> bool:
    """A push-only key learns what it sent and ids, never stored records it could not read:
    a repeat of someone else's source + external_id must not reveal their record."""
    return not isinstance(request.auth, ScopedCredential) or request.auth.allows(Scope.READ)


def single_response(request: Request, pushed: Pushed, render: Callable[[int], dict[str, Any]]) -> Response:
    """201 with the stored item when new; 200 on a repeat (the stored item to readers,
    {id, status} to push keys); 400 with the field errors."""
    if pushed.status == "error" or pushed.id is None:
        return Response(pushed.errors, status=status.HTTP_400_BAD_REQUEST)
    if pushed.status == "duplicate" and not may_read(request):
        return Response({"id": pushed.id, "status": "duplicate"}, status=status.HTTP_200_OK)
    code = status.HTTP_201_CREATED if pushed.status == "created" else status.HTTP_200_OK
    return Response(render(pushed.id), status=code)


def bulk_items(request: Request) -> list[Any] | Response:
    """The request's items, or the 400 that says what is wrong with the envelope."""
    items = request.data.get("items") if isinstance(request.data, dict) else None
    if not isinstance(items, list):
        return Response({"items": ["Send a JSON object with a list under 'items'."]}, status=400)
    if not 1 <= len(items) <= BULK_MAX_ITEMS:
        return Response({"items": [f"Send between 1 and {BULK_MAX_ITEMS} items."]}, status=400)
    return items


def bulk_response(request: Request, results: Sequence[Pushed]) -> Response:
    reader = may_read(request)
    body = {
        "created": sum(r.status == "created" for r in results),
        "duplicates": sum(r.status == "duplicate" for r in results),
        "errors": sum(r.status == "error" for r in results),
        "results": [
            {
                "index": index,
                "status": r.status,
                "id": r.id,
                # A repeat's customer only to keys that may read: it names someone else's record.
                "customer": r.customer if reader or r.status == "created" else None,
                **({"errors": r.errors} if r.errors else {}),
            }
            for index, r in enumerate(results)
        ],
    }
    return Response(body, status=status.HTTP_200_OK)
