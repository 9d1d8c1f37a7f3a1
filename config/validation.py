"""Field checks shared by everything other systems send with a time and a retry key
(touchpoints, outcomes): the same reasons in the same words everywhere."""

from datetime import datetime, timedelta

from django.utils import timezone

Errors = dict[str, list[str]]

# Clocks of other systems drift; a time further in the future than this is a mistake.
FUTURE_TOLERANCE = timedelta(hours=24)


def moment_errors(value: object, *, what: str, now: datetime | None = None) -> list[str]:
    """Why `value` is not a usable time of something that has happened (empty: it is)."""
    if not isinstance(value, datetime):
        return ["Give a date and time with its time zone, e.g. 2026-03-01T09:30:00+00:00."]
    if timezone.is_naive(value):
        return ["This date and time has no time zone; add one, e.g. +00:00 or Z."]
    if value > (now or timezone.now()) + FUTURE_TOLERANCE:
        return [f"This is in the future; {what} is recorded when or after it happens."]
    return []


def retry_key_errors(source: object, external_id: object) -> Errors:
    errors: Errors = {}
    for name, value, limit in (("source", source, 50), ("external_id", external_id, 200)):
        if not isinstance(value, str) or not value.strip():
            errors[name] = ["This field is required: source and external_id together make a retry safe."]
        elif len(value) > limit:
            errors[name] = [f"At most {limit} characters."]
    return errors
