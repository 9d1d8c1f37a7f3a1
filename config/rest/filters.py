from datetime import UTC, datetime
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

OUT_OF_RANGE = "Give a date and time between the years 1 and 9999."


def utc_or_none(value: datetime) -> datetime | None:
    """`value` in UTC, as the database gets it (PostgreSQL refuses offsets beyond ±15:59,
    which ISO 8601 allows, e.g. +23:45); None when it falls outside the years 1..9999."""
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


class UtcIsoDateTimeField(IsoDateTimeField):
    def clean(self, value: Any) -> datetime | None:
        result = super().clean(value)
        if result is None:
            return None
        in_utc = utc_or_none(result)
        if in_utc is None:
            raise ValidationError(OUT_OF_RANGE)
        return in_utc


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class TrueFalseFilter(django_filters.ChoiceFilter):
    """`true` or `false` (the schema says so: a string enum); anything else is a 400 naming
    the parameter, where a BooleanFilter silently ignores a value it cannot read. The
    filter method receives the text; `is_true` reads it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[("true", "true"), ("false", "false")], **kwargs)


def is_true(value: str) -> bool:
    return value == "true"
