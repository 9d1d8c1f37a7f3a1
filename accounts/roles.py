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
    # One query per request: the names are kept on the user object the request carries.
    names = getattr(user, "_role_names", None)
    if names is None:
        groups = getattr(user, "groups", None)
        if groups is None:  # authenticated but not a person (an API key's caller): no roles
            return False
        names = frozenset(groups.values_list("name", flat=True))
        user._role_names = names  # type: ignore[attr-defined]
    return role in names
