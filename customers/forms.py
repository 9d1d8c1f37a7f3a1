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


def segment_filter() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(queryset=Segment.objects.all(), required=False, empty_label="All segments")


def owner_filter() -> forms.ModelChoiceField:
    """The staff who own at least one customer."""
    return forms.ModelChoiceField(
        # EXISTS per user, not a DISTINCT over a join with every customer (56 ms at 100k).
        queryset=User.objects.filter(Exists(Customer.objects.filter(owner=OuterRef("pk")))).order_by(
            "first_name", "username"
        ),
        required=False,
        empty_label="All owners",
    )


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
    sort = forms.ChoiceField(choices=SORTS, required=False, initial="name")
