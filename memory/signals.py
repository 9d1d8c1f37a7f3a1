"""What the memory engine announces to the apps above it (pipeline/stages.py connects them)."""

from dataclasses import dataclass
from datetime import datetime

from django.dispatch import Signal


@dataclass(frozen=True)
class BandChange:
    customer_id: int
    ref: str
    previous_band: str
    band: str
    score: float
    at: datetime


# Sent with changes=list[BandChange], inside the transaction that stored the memories.
bands_changed = Signal()

# Sent with customer_ids=list[int] of every memory just stored, inside the same transaction:
# what reacts to a score (the playbooks' triggers) queues its work after commit.
memories_stored = Signal()
