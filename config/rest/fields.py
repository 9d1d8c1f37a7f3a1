"""Field types every push endpoint shares: text the database can store, and times with
their zone inside a customer relationship's lifetime."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from config.rest.filters import OUT_OF_RANGE, utc_or_none

# Touchpoints happen in the customer relationship's lifetime: a date outside it is a typo
# or a placeholder (0001-01-01), and would overflow the journey and memory arithmetic.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(value: str) -> None:
    """Refuse text the database cannot store: NUL characters and lone UTF-16 surrogates
    (valid in JSON escapes, not in UTF-8)."""
    if "\x00" in value:
        raise serializers.ValidationError("Text must not contain NUL (\\u0000) characters.")
    if SURROGATE.search(value):
        raise serializers.ValidationError("Text must be valid Unicode (a lone surrogate such as \\ud800 is not).")


class Text(serializers.CharField):
    """A CharField that also refuses lone surrogates (DRF already refuses NUL)."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        check_text(value)
        return value


class AwareDateTimeField(serializers.DateTimeField):
    """A date-time that must carry its time zone: a naive one is refused, not guessed."""

    default_error_messages = {
        "naive": "This date and time has no time zone; add one, e.g. 2026-03-01T09:30:00+00:00 or ...Z.",
        "range": OUT_OF_RANGE,
        "lifetime": "Give a date and time from 1900 on, and no later than a day from now.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        # Digits other than ASCII 0-9 (fullwidth, Arabic-Indic ...) are refused: ISO 8601 is ASCII.
        if isinstance(value, str) and not value.isascii():
            self.fail("invalid", format="ISO 8601, e.g. 2026-03-01T09:30:00Z")
        result: datetime = super().to_internal_value(value)
        if not EARLIEST <= result <= timezone.now() + FUTURE_SLACK:
            self.fail("lifetime")
        return result

    def enforce_timezone(self, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            self.fail("naive")
        in_utc = utc_or_none(value)
        if in_utc is None:
            self.fail("range")
        return in_utc


class StrictBoolean(serializers.BooleanField):
    """JSON true or false, nothing else: 0, "yes" or "on" are refused, as the schema says.
    (Touchpoints keep DRF's lenient booleans: CSV imports send them as text.)"""

    default_error_messages = {"invalid": "Give true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid")
        raise AssertionError("unreachable")  # pragma: no cover
