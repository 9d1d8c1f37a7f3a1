"""Is a touchpoint well formed, and which journey stage is it at? No per-item queries."""

from datetime import datetime

from config.kept import KeptTable, keep_current
from config.validation import Errors, moment_errors, retry_key_errors
from interactions.models import RATING_RANGES, SUMMARY_MAX_LENGTH, Channel, ChannelDefault, Direction, RatingScale
from journeys.models import JourneyStage

DEFAULT_INTENSITY = 3  # for a channel without a default of its own


def text_or_empty(value: object) -> str:
    """An optional text field as given: stripped, or empty when absent or not text."""
    return value.strip() if isinstance(value, str) else ""


def is_whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _in_range(value: object, low: int, high: int) -> bool:
    return is_whole_number(value) and low <= value <= high  # type: ignore[operator]


def _rating_errors(rating: object, rating_scale: object) -> Errors:
    if rating is None:
        return {"rating": ["A rating scale was given without a rating."]} if rating_scale else {}
    if rating_scale not in RatingScale.values:
        return {"rating_scale": ["Say which scale the rating is on: csat (1-5) or nps (0-10)."]}
    low, high = RATING_RANGES[RatingScale(rating_scale)]
    if not _in_range(rating, low, high):
        return {"rating": [f"A {rating_scale} rating is a whole number from {low} to {high}."]}
    return {}


def validate_touchpoint(
    *,
    channel: object,
    valence: object,
    intensity: object,
    occurred_at: object,
    direction: object,
    summary: object,
    rating: object,
    rating_scale: object,
    source: object,
    external_id: object,
    now: datetime | None = None,
) -> Errors:
    """Field errors of one touchpoint, without touching the database."""
    errors: Errors = {}
    if channel not in Channel.values:
        errors["channel"] = [f"Unknown channel {channel!r}; use one of: {', '.join(Channel.values)}."]
    if not _in_range(valence, -2, 2):
        errors["valence"] = ["Give a whole number from -2 (very bad) to 2 (very good)."]
    if intensity is not None and not _in_range(intensity, 1, 5):
        errors["intensity"] = ["Give a whole number from 1 (faint) to 5 (unforgettable), or leave it out."]
    if moment := moment_errors(occurred_at, what="a touchpoint", now=now):
        errors["occurred_at"] = moment
    if direction not in Direction.values:
        errors["direction"] = [f"Unknown direction {direction!r}; use inbound or outbound."]
    if not isinstance(summary, str) or len(summary) > SUMMARY_MAX_LENGTH:
        errors["summary"] = [f"Give text of at most {SUMMARY_MAX_LENGTH} characters."]
    errors.update(_rating_errors(rating, rating_scale))
    errors.update(retry_key_errors(source, external_id))
    return errors


StageTables = tuple[dict[str, JourneyStage], dict[int, JourneyStage], dict[str, ChannelDefault]]


def _read_stage_tables() -> StageTables:
    stages = {stage.key: stage for stage in JourneyStage.objects.all()}
    return stages, {stage.pk: stage for stage in stages.values()}, {d.channel: d for d in ChannelDefault.objects.all()}


# Read by every write, changed by an administrator now and then (config/kept.py).
STAGE_TABLES = KeptTable("journey-stages", _read_stage_tables)


def keep_stage_tables_current() -> None:
    keep_current(STAGE_TABLES, JourneyStage, ChannelDefault)


class StageDefaults:
    """The journey stages and each channel's default stage and intensity, as this
    process keeps them (no query while they are unchanged)."""

    def __init__(self) -> None:
        self.stages, self.stages_by_id, self.defaults = STAGE_TABLES.get()

    def stage(self, given: object, channel: str) -> tuple[JourneyStage | None, str]:
        """The stage given (an object or a key), or the channel's default; else why not."""
        if isinstance(given, JourneyStage):
            return given, ""
        if given not in (None, ""):
            if isinstance(given, str) and given in self.stages:
                return self.stages[given], ""
            return None, f"Unknown stage {given!r}; use one of: {', '.join(self.stages)}."
        default = self.defaults.get(channel)
        if default is None:
            return None, f"Channel {channel!r} has no default stage; give a stage."
        return self.stages_by_id[default.stage_id], ""

    def intensity(self, channel: str) -> int:
        default = self.defaults.get(channel)
        return default.intensity if default else DEFAULT_INTENSITY
