"""What every page form does with a service's refusal."""

from django import forms
from django.core.exceptions import ValidationError


def show_refusal(form: forms.BaseForm, error: ValidationError) -> None:
    """Put the errors of a refused write on the fields they name, the rest above the form."""
    for name, errors in error.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)
