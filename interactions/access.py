"""Who may correct or delete a touchpoint."""

from datetime import timedelta

from django.utils import timezone

from accounts.access import is_manager
from interactions.models import Interaction

# The person who logged a touchpoint may fix their own slip for this long after they
# logged it; after that the record stands and only a manager changes it, on the record.
OWN_CORRECTION_WINDOW = timedelta(days=1)


def can_correct_touchpoint(user: object, interaction: Interaction) -> bool:
    if is_manager(user):
        return True
    person = getattr(user, "pk", None)  # None for an API key's caller: it is no person
    if not getattr(user, "is_authenticated", False) or person is None or interaction.staff_id != person:
        return False
    return timezone.now() - interaction.created_at <= OWN_CORRECTION_WINDOW
