"""The three roles of the product, as Django groups (created by a data migration)."""

SUPPORT_STAFF = "Support staff"
MANAGERS = "Managers"
ADMINISTRATORS = "Administrators"

ALL_ROLES = (SUPPORT_STAFF, MANAGERS, ADMINISTRATORS)
