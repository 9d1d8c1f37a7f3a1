"""The three roles of the product, as Django groups (created by a data migration)."""

SUPPORT_STAFF = "Support staff"
MANAGERS = "Managers"
ADMINISTRATORS = "Administrators"

ALL_ROLES = (SUPPORT_STAFF, MANAGERS, ADMINISTRATORS)


def has_role(user: object, role: str) -> bool:
    """Whether a signed-in user holds `role` (superusers hold every role)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return user.groups.filter(name=role).exists()  # type: ignore[attr-defined]
