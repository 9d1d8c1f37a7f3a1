"""Outcomes as other systems send them: parsed and recorded in bulk, a malformed one
reported and not fatal. Shared by the API, the CSV import and `import_outcomes`."""

from typing import Any

from django.contrib.auth.models import User
from rest_framework import serializers

from config.rest.fields import AwareDateTimeField, Text
from config.rest.pushing import Pushed, PushedRecord, reused
from outcomes.models import NOTE_MAX_LENGTH, OutcomeKind
from outcomes.services import OutcomeIn, OutcomeResult, outcomes_record_many


class OutcomeInSerializer(PushedRecord):
    """One outcome as other systems send it; the customer must exist."""

    kind = serializers.ChoiceField(choices=OutcomeKind.choices)
    occurred_at = AwareDateTimeField(help_text="When it took effect, with time zone (ISO 8601).")
    note = Text(required=False, allow_blank=True, max_length=NOTE_MAX_LENGTH, default="")


def _pushed(result: OutcomeResult) -> Pushed:
    stored = result.outcome
    return Pushed(result.status, stored.pk if stored else None, stored.customer_id if stored else None, result.errors)


def record_outcome_payloads(payloads: list[Any], *, recorded_by: User | None) -> list[Pushed]:
    """Parse and record many outcomes; a malformed one is reported, not fatal."""
    parser = reused(OutcomeInSerializer)
    parsed: list[OutcomeIn | dict[str, list[str]]] = []
    for payload in payloads:
        try:
            data = parser.run_validation(payload)
        except serializers.ValidationError as exc:
            errors = serializers.as_serializer_error(exc)
            parsed.append({k: [str(m) for m in v] for k, v in errors.items()})
            continue
        parsed.append(
            OutcomeIn(
                customer_id=data.get("customer"),
                customer_ref=data.get("customer_ref", ""),
                kind=data["kind"],
                occurred_at=data["occurred_at"],
                note=data.get("note", ""),
                source=data["source"],
                external_id=data["external_id"],
            )
        )
    stored = iter(outcomes_record_many(items=[p for p in parsed if isinstance(p, OutcomeIn)], recorded_by=recorded_by))
    return [_pushed(next(stored)) if isinstance(p, OutcomeIn) else Pushed("error", errors=p) for p in parsed]
