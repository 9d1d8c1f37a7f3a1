import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from audit.models import Action, AuditEntry


def _plain(value: Any) -> Any:
    """A value as it can be kept in the JSON column: a related object by its key, dates
    and the like as Django's JSON encoder writes them."""
    if isinstance(value, models.Model):
        return value.pk
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def audit_record(
    *,
    actor: Any,
    action: Action,
    obj: models.Model,
    changes: dict[str, tuple[Any, Any]] | dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEntry:
    """Append an entry; `actor` is a user, a label (e.g. a system's name) or None."""
    user = actor if getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) else None
    label = (user.get_username() if user else str(actor)) if actor else "system"
    plain = {
        name: [_plain(v) for v in value] if isinstance(value, tuple) else _plain(value)
        for name, value in (changes or {}).items()
    }
    return AuditEntry.objects.create(
        actor=user,
        actor_label=label[:200],
        action=action,
        object_type=obj._meta.label,
        object_id=str(obj.pk),
        object_repr=str(obj)[:300],
        changes=plain,
        reason=reason,
    )
