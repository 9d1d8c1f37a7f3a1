"""What an API key may do, and how an endpoint asks, without knowing the key's model."""

from typing import Protocol, runtime_checkable

from django.db import models


class Scope(models.TextChoices):
    PUSH = "push", "Push touchpoints only"
    READ = "read", "Read only"
    FULL = "full", "Push and read"


@runtime_checkable
class ScopedCredential(Protocol):
    """A credential with a scope (integrations.models.APIKey): what `request.auth` holds
    when another system calls; a person's session leaves it None."""

    def allows(self, needed: str) -> bool: ...
