from django import forms

from customers.forms import lifecycle_filter, owner_filter, segment_filter
from memory.models import Band

SORTS = [
    ("name", "Name"),
    ("score", "Score, lowest first"),
    ("-score", "Score, highest first"),
    ("last_touch", "Latest touchpoint first"),
    ("trend", "Falling fastest (30 days)"),
]


class DirectoryFilters(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        help_text="Any part of the name, reference, e-mail or company.",
        widget=forms.TextInput(attrs={"type": "search", "autofocus": True}),
    )
    band = forms.ChoiceField(choices=[("", "All bands"), *Band.choices], required=False)
    segment = segment_filter()
    owner = owner_filter()
    lifecycle = lifecycle_filter(initial="all")
    sort = forms.ChoiceField(choices=SORTS, required=False, initial="name")
