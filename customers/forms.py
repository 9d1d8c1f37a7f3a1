from django import forms
from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef

from customers.models import Customer, Segment
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
    segment = forms.ModelChoiceField(queryset=Segment.objects.all(), required=False, empty_label="All segments")
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(Exists(Customer.objects.filter(owner=OuterRef("pk")))).order_by(
            "first_name", "username"
        ),
        required=False,
        empty_label="All owners",
    )
    sort = forms.ChoiceField(choices=SORTS, required=False, initial="name")
