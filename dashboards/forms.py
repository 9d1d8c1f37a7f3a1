from typing import Any

from django import forms

from customers.forms import lifecycle_filter, owner_filter, segment_filter
from interactions.models import Channel
from journeys.models import JourneyStage

PERIODS = [(7, "last 7 days"), (30, "last 30 days"), (90, "last 90 days"), (365, "last year")]


class DashboardFilters(forms.Form):
    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        # A bound form without a period (a link that sets one filter) means the default
        # period; otherwise the select would show the first choice while 90 days apply.
        if data is not None and not data.get("period"):
            data = data.copy()
            data["period"] = "90"
        super().__init__(data, **kwargs)

    segment = segment_filter()
    owner = owner_filter()
    channel = forms.ChoiceField(choices=[("", "All channels"), *Channel.choices], required=False)
    stage = forms.ModelChoiceField(
        queryset=JourneyStage.objects.all(), to_field_name="key", required=False, empty_label="All stages"
    )
    lifecycle = lifecycle_filter(initial="all")
    remembered_worse = forms.BooleanField(
        required=False,
        label="Remembered worse than lived",
        help_text="Customers whose memory score is 10 or more points below what they lived through on average.",
    )
    period = forms.TypedChoiceField(choices=PERIODS, coerce=int, required=False, empty_value=None, initial=90)
