"""The stages that follow a write, in the order they run. This module is the list.

The write services of the lower apps store their rows and announce them (config/announce.py);
everything that reacts lives in the apps above and is connected here, so the lower apps
never import the higher ones. Each stage runs inside the writer's transaction and only
queues or counts: slow work (the memory refresh, webhook delivery) is enqueued after commit.

After touchpoints are recorded, changed or deleted:
1. the customers' memories are refreshed (one drain queued after commit, coalesced: it
   refreshes every customer that is behind, in batches);
2. the dashboard's daily counters count the old rows out and the new rows in;
3. `interaction.recorded` webhooks are queued for new touchpoints that are news.

After memories are stored:
4. the playbooks' triggers are evaluated for those customers (noted in the database once the
   memories commit, one coalesced evaluation queued);
5. `band.changed` webhooks are queued for every customer whose band moved.
"""

from typing import Any

from dashboards.services import daily_stats_apply
from integrations.models import Event
from integrations.services import band_change_payloads, interaction_payloads, subscriptions_for
from integrations.tasks import webhooks_emit
from interactions.models import Interaction
from interactions.signals import TouchpointsWritten, touchpoints_written
from memory.models import CustomerMemory
from memory.signals import BandChange, bands_changed, memories_stored
from memory.tasks import schedule_memory_refresh
from playbooks.tasks import schedule_evaluation


def refresh_memories(written: TouchpointsWritten) -> None:
    if written.refresh_memory and written.customer_ids:
        schedule_memory_refresh()


def count_in_dashboards(written: TouchpointsWritten) -> None:
    daily_stats_apply(interactions=written.before, sign=-1)
    daily_stats_apply(interactions=written.after, sign=1)


def notify_recorded(written: TouchpointsWritten) -> None:
    if not written.news or not written.after:
        return
    # Payloads only when someone listens: most installations have no subscription.
    subscriptions = subscriptions_for(Event.INTERACTION_RECORDED)
    if subscriptions:
        webhooks_emit(
            event=Event.INTERACTION_RECORDED, items=interaction_payloads(written.after), subscriptions=subscriptions
        )


def evaluate_playbooks(customer_ids: list[int]) -> None:
    schedule_evaluation(customer_ids)


def notify_band_changes(changes: list[BandChange]) -> None:
    if changes:
        webhooks_emit(event=Event.BAND_CHANGED, items=band_change_payloads(changes))


AFTER_TOUCHPOINTS_WRITTEN = (refresh_memories, count_in_dashboards, notify_recorded)
AFTER_MEMORIES_STORED = (evaluate_playbooks,)
AFTER_BANDS_CHANGED = (notify_band_changes,)


def _on_touchpoints_written(written: TouchpointsWritten, **_: Any) -> None:
    for stage in AFTER_TOUCHPOINTS_WRITTEN:
        stage(written)


def _on_memories_stored(customer_ids: list[int], **_: Any) -> None:
    for stage in AFTER_MEMORIES_STORED:
        stage(customer_ids)


def _on_bands_changed(changes: list[BandChange], **_: Any) -> None:
    for stage in AFTER_BANDS_CHANGED:
        stage(changes)


def install() -> None:
    """Connect the stages (once: the uid makes a second call a no-op)."""
    touchpoints_written.connect(
        _on_touchpoints_written, sender=Interaction, dispatch_uid="pipeline.touchpoints_written"
    )
    memories_stored.connect(_on_memories_stored, sender=CustomerMemory, dispatch_uid="pipeline.memories_stored")
    bands_changed.connect(_on_bands_changed, sender=CustomerMemory, dispatch_uid="pipeline.bands_changed")
