import json
import uuid
from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from customers.models import Customer
from interactions.models import SUMMARY_MAX_LENGTH, Channel, ChannelDefault, Direction, Interaction, Valence
from interactions.selectors import open_complaints
from interactions.services import RecordResult, interaction_record
from journeys.models import JourneyStage


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 CSV with the API's field names as columns (see the API guide). Safe to upload again.",
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError("Upload a .csv file.")
        return upload


WEB_SOURCE = "web"


class TouchpointForm(forms.Form):
    """Log a touchpoint in seconds: good defaults, Enter submits, a retry never duplicates."""

    customer = forms.CharField(
        label="Customer",
        max_length=100,
        help_text="Type a name or reference and pick from the list.",
        widget=forms.TextInput(attrs={"list": "customer-options", "autocomplete": "off"}),
    )
    new_customer_name = forms.CharField(
        label="New customer's name",
        max_length=200,
        required=False,
        help_text="Only for a customer who is not in the list yet.",
    )
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.CALL)
    stage = forms.ModelChoiceField(
        queryset=JourneyStage.objects.all(), to_field_name="key", required=False, empty_label="Channel's default"
    )
    valence = forms.TypedChoiceField(
        label="How did it feel to the customer?",
        choices=Valence.choices,
        coerce=int,
        widget=forms.RadioSelect,
    )
    intensity = forms.TypedChoiceField(
        label="How vivid",
        choices=[("", "Channel's default"), *[(i, f"{i}") for i in range(1, 6)]],
        coerce=int,
        empty_value=None,
        required=False,
    )
    summary = forms.CharField(max_length=SUMMARY_MAX_LENGTH, required=False)
    direction = forms.ChoiceField(choices=Direction.choices, initial=Direction.INBOUND)
    resolves = forms.TypedChoiceField(
        label="Resolves complaint", choices=[("", "-")], coerce=int, empty_value=None, required=False
    )
    resolved_on_first_contact = forms.BooleanField(required=False, label="Resolved on first contact")
    minutes_ago = forms.IntegerField(
        label="Happened ... minutes ago", min_value=0, max_value=60 * 24 * 365, initial=0, required=False
    )
    key = forms.UUIDField(widget=forms.HiddenInput, help_text="Makes a double submit harmless.")

    def __init__(self, *args: Any, complaints: list[tuple[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["resolves"].choices = [("", "-"), *(complaints or [])]  # type: ignore[attr-defined]
        if not self.is_bound:
            self.initial.setdefault("key", uuid.uuid4())

    def occurred_at(self) -> Any:
        return timezone.now() - timedelta(minutes=self.cleaned_data.get("minutes_ago") or 0)

    def record(self, *, customer: Customer, staff: Any) -> RecordResult:
        """Store the valid form's touchpoint for `customer`, logged by `staff` on the web (the
        form's key makes a double submit return the first one). Raises ValidationError."""
        data = self.cleaned_data
        return interaction_record(
            customer=customer,
            channel=data["channel"],
            valence=data["valence"],
            occurred_at=self.occurred_at(),
            stage=data["stage"],
            intensity=data["intensity"],
            summary=data["summary"],
            direction=data["direction"],
            staff=staff,
            resolves=data["resolves"],
            resolved_on_first_contact=data["resolved_on_first_contact"],
            source=WEB_SOURCE,
            external_id=str(data["key"]),
        )


def complaint_choices(customer: Customer | None, complaints: list[Interaction] | None = None) -> list[tuple[int, str]]:
    if customer is None:
        return []
    if complaints is None:
        complaints = list(open_complaints(customer)[:50])
    return [
        (c.pk, f"{c.get_channel_display()} on {c.occurred_at:%-d %b %Y}: {c.summary[:60] or 'no summary'}")
        for c in complaints
    ]


def channel_defaults_json() -> str:
    return json.dumps(
        {
            d.channel: {"stage": d.stage.key, "intensity": d.intensity}
            for d in ChannelDefault.objects.select_related("stage")
        }
    )


REASON_HELP = "Kept in the audit log with your name and what the record said before."


class CorrectionForm(forms.ModelForm):
    """What can be set right about a logged touchpoint. Its time, customer and source are
    facts of the record; a touchpoint logged against the wrong customer is deleted and
    logged again."""

    valence = forms.TypedChoiceField(
        label="How did it feel to the customer?", choices=Valence.choices, coerce=int, widget=forms.RadioSelect
    )
    reason = forms.CharField(max_length=500, label="Why is it corrected?", help_text=REASON_HELP)

    class Meta:
        model = Interaction
        fields = ["channel", "stage", "valence", "intensity", "direction", "summary", "resolved_on_first_contact"]
        labels = {"intensity": "How vivid (1-5)"}
        widgets = {"summary": forms.Textarea(attrs={"rows": 3})}

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data if name != "reason"}


class DeletionForm(forms.Form):
    prefix = "delete"  # shares a page with CorrectionForm, whose reason has the same name
    reason = forms.CharField(max_length=500, label="Why is it deleted?", help_text=REASON_HELP)
