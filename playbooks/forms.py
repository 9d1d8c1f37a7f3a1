from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from accounts.teams import active_staff
from customers.forms import StaffChoiceField
from interactions.models import Channel
from playbooks.models import CLOSED_BY_PEOPLE, Playbook, TriggerKind


class PlaybookForm(forms.ModelForm):
    channel = forms.ChoiceField(
        choices=[("", "Any channel"), *Channel.choices],
        required=False,
        help_text="Only when the touchpoint behind the trigger came on this channel (not for bands and drops).",
    )

    class Meta:
        model = Playbook
        fields = [
            "name",
            "kind",
            "enabled",
            "description",
            "drop_points",
            "window_days",
            "wait_hours",
            "segment",
            "owner",
            "channel",
            "stage",
            "max_score",
            "sla_hours",
            "assign_group",
            "cooldown_days",
            "send_email",
        ]
        labels = {
            "kind": "Trigger",
            "drop_points": "Drop of at least (points)",
            "window_days": "Within (days)",
            "wait_hours": "Wait (hours)",
            "max_score": "Score at most",
            "sla_hours": "Due within (hours)",
            "assign_group": "Without an owner, assign within",
            "cooldown_days": "Cool-down (days)",
            "send_email": "E-mail the assignee",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == TriggerKind.SCORE_DROP and data.get("window_days") not in (7, 30):
            self.add_error("window_days", "A score drop is measured over 7 or 30 days.")
        return data

    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Each changed field as (before, after), for the audit log."""
        return {name: (self.initial.get(name), self.cleaned_data.get(name)) for name in self.changed_data}


class CloseForm(forms.Form):
    reason = forms.ChoiceField(label="Outcome", choices=CLOSED_BY_PEOPLE)
    note = forms.CharField(label="Note", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))


SNOOZE_CHOICES = [(4, "4 hours"), (24, "1 day"), (72, "3 days"), (168, "1 week")]


class SnoozeForm(forms.Form):
    hours = forms.TypedChoiceField(label="Snooze for", choices=SNOOZE_CHOICES, coerce=int)

    def until(self) -> Any:
        return timezone.now() + timedelta(hours=self.cleaned_data["hours"])


class ReassignForm(forms.Form):
    # The queryset is lazy and copied per form: each form reads who works here now.
    assignee = StaffChoiceField(label="Give to", queryset=active_staff(), to_field_name="username")
