# Users are Django's own; roles are groups (accounts/roles.py).
