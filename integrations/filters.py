from datetime import UTC, datetime
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 date-time, handed to the database in UTC: PostgreSQL refuses offsets beyond
    ±15:59, which ISO 8601 allows (e.g. +23:45)."""

    def clean(self, value: Any) -> datetime | None:
        result = super().clean(value)
        if result is None:
            return None
        try:
            return result.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError("Give a date and time between the years 1 and 9999.") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField
