"""Who may change a customer: rules on one object, beside the role checks in accounts.access."""

from accounts.access import is_manager
from customers.models import Customer


def can_edit_customer(user: object, customer: Customer) -> bool:
    """Managers and administrators edit any customer; support staff the customers they own."""
    if is_manager(user):
        return True
    return bool(getattr(user, "is_authenticated", False)) and customer.owner_id == getattr(user, "pk", None)
