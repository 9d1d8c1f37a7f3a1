"""Writes of touchpoints, by concern:

- `validation`: is an item well formed, and at which journey stage (no per-item queries);
- `customer_refs`: whose touchpoint it is (by object, id or ref; new refs created);
- `recoveries`: which complaint a touchpoint recovers;
- `recording`: record one or many, idempotent on (source, external_id);
- `corrections`: change or delete what was recorded, audited.

Callers import from here; the modules are the rooms inside.
"""

from interactions.services.corrections import CHANGEABLE_FIELDS, interaction_change, interaction_delete
from interactions.services.items import ItemResult, RecordResult, TouchpointIn
from interactions.services.recording import interaction_record, interactions_record_many

__all__ = [
    "CHANGEABLE_FIELDS",
    "ItemResult",
    "RecordResult",
    "TouchpointIn",
    "interaction_change",
    "interaction_delete",
    "interaction_record",
    "interactions_record_many",
]
