import uuid
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from interactions.models import MAX_INTENSITY, MIN_INTENSITY, Channel
from memory.engine import PARAMETER_LIMITS
from memory.models import ScoringVersion
from outcomes.models import NOTE_MAX_LENGTH, OutcomeKind


class OutcomeForm(forms.Form):
    kind = forms.ChoiceField(choices=OutcomeKind.choices, label="What happened")
    occurred_on = forms.DateField(
        label="When it took effect",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The renewal or cancellation date.",
    )
    note = forms.CharField(
        max_length=NOTE_MAX_LENGTH, required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Note"
    )
    key = forms.UUIDField(widget=forms.HiddenInput, help_text="Makes a double submit harmless.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("key", uuid.uuid4())
            self.initial.setdefault("occurred_on", timezone.localdate())

    def occurred_at(self) -> datetime:
        """Midday of the chosen day, in the product's time zone: a date has no hour."""
        return timezone.make_aware(datetime.combine(self.cleaned_data["occurred_on"], time(12)))


class BacktestForm(forms.Form):
    cutoff = forms.DateField(
        label="Cut-off date",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Scores are computed from the touchpoints before it; outcomes are read after it.",
    )
    window_days = forms.IntegerField(min_value=7, max_value=730, initial=90, label="Window (days)")
    rolling = forms.BooleanField(required=False, label="Also every quarter before it (does it hold over time?)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("cutoff", timezone.localdate() - timedelta(days=90))

    def cutoff_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.cleaned_data["cutoff"], time.min))


INTENSITY_PREFIX = "intensity_"


class VersionForm(forms.Form):
    """Every number of a draft scoring version: the model's parameters (band thresholds and
    the display mapping among them) and each channel's default intensity."""

    note = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="What this version changes, and why",
    )

    def __init__(self, *args: Any, version: ScoringVersion, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["note"].initial = version.note
        for name, (low, high, label) in PARAMETER_LIMITS.items():
            options: dict[str, Any] = {
                "label": label,
                "initial": version.parameters.get(name),
                "help_text": f"{low:g} to {high:g}",
            }
            if name == "top_journeys":
                self.fields[name] = forms.IntegerField(min_value=int(low), max_value=int(high), **options)
            else:
                self.fields[name] = forms.FloatField(
                    min_value=low, max_value=high, widget=forms.NumberInput(attrs={"step": "any"}), **options
                )
        for channel, label in Channel.choices:
            if channel in version.channel_intensities:
                self.fields[INTENSITY_PREFIX + channel] = forms.IntegerField(
                    label=f"{label}: default intensity",
                    min_value=MIN_INTENSITY,
                    max_value=MAX_INTENSITY,
                    initial=version.channel_intensities[channel],
                )

    def parameters(self) -> dict[str, float]:
        return {name: self.cleaned_data[name] for name in PARAMETER_LIMITS}

    def intensities(self) -> dict[str, int]:
        return {
            name.removeprefix(INTENSITY_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(INTENSITY_PREFIX)
        }

    def parameter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in PARAMETER_LIMITS]

    def intensity_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(INTENSITY_PREFIX)]


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Why",
        help_text="Kept in the audit log beside your name.",
    )
