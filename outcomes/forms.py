import uuid
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone

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
