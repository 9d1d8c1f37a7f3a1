"""What the write services announce after touchpoints are recorded, changed or deleted.

interactions sits below memory, dashboards and integrations, so it cannot call them; the
stages that follow a write (pipeline/stages.py) receive a `TouchpointsWritten` instead.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.dispatch import Signal

from interactions.models import Interaction


@dataclass(frozen=True)
class TouchpointsWritten:
    """One write, inside its transaction. Rows carry their customer (segment, owner, ref)."""

    before: Sequence[Interaction]  # rows as they were: deleted, or before a change
    after: Sequence[Interaction]  # rows as now stored: recorded, or after a change
    customer_ids: Sequence[int]  # whose history changed, in id order
    news: bool  # newly recorded touchpoints others should hear of (not a history import)
    refresh_memory: bool  # False only where the caller recomputes memories itself (seeding)


# Sent with written=TouchpointsWritten.
touchpoints_written = Signal()
