"""config/kept.py: the small tables every write reads (journey stages, channel defaults,
webhook subscriptions) are kept per process until they change, and no longer."""

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection, transaction

from config.kept import KeptTable
from integrations.models import Event, WebhookSubscription
from integrations.services import subscriptions_for
from interactions.models import ChannelDefault
from interactions.services.validation import STAGE_TABLES, StageDefaults

CALL_INTENSITY = 3  # interactions/migrations/0003_seed_channel_defaults.py


@pytest.fixture(autouse=True)
def fresh_copy() -> None:
    STAGE_TABLES.forget()


def _moved_elsewhere(table: KeptTable[Any]) -> None:
    """What another process's commit of a change does: move the shared generation."""
    cache.set(f"kept-table-generation:{table.name}", "moved by another process")


@pytest.mark.django_db
def test_a_write_reads_the_stage_tables_without_a_query_while_they_are_unchanged(
    django_assert_num_queries: Any,
) -> None:
    StageDefaults()
    with django_assert_num_queries(0):
        assert StageDefaults().intensity("call") == CALL_INTENSITY


@pytest.mark.django_db
def test_a_change_made_elsewhere_is_seen_once_its_generation_moves() -> None:
    assert StageDefaults().intensity("call") == CALL_INTENSITY
    with connection.cursor() as cursor:  # no signal reaches this process, as from another
        cursor.execute("UPDATE interactions_channeldefault SET intensity = 1 WHERE channel = 'call'")
    assert StageDefaults().intensity("call") == CALL_INTENSITY  # the copy, unchanged
    _moved_elsewhere(STAGE_TABLES)
    assert StageDefaults().intensity("call") == 1


@pytest.mark.django_db
def test_a_saved_change_is_seen_by_the_next_write_at_once() -> None:
    assert StageDefaults().intensity("call") == CALL_INTENSITY
    ChannelDefault.objects.filter(channel="call").update(intensity=2)  # no signal: not seen
    default = ChannelDefault.objects.get(channel="call")
    default.intensity = 5
    default.save()
    assert StageDefaults().intensity("call") == 5


@pytest.mark.django_db(transaction=True)
def test_a_change_rolled_back_is_never_kept() -> None:
    assert StageDefaults().intensity("call") == CALL_INTENSITY
    with transaction.atomic():
        default = ChannelDefault.objects.get(channel="call")
        default.intensity = 1
        default.save()
        assert StageDefaults().intensity("call") == 1  # the writer sees its own change...
        assert StageDefaults().intensity("call") == 1
        transaction.set_rollback(True)
    assert StageDefaults().intensity("call") == CALL_INTENSITY  # ...which it did not keep
    assert StageDefaults().intensity("call") == CALL_INTENSITY


@pytest.mark.django_db
def test_webhook_subscriptions_are_kept_and_follow_every_change() -> None:
    assert subscriptions_for(Event.INTERACTION_RECORDED) == []
    subscription = WebhookSubscription.objects.create(
        name="crm", url="https://crm.example.com/hook", events=[Event.INTERACTION_RECORDED]
    )
    assert subscriptions_for(Event.INTERACTION_RECORDED) == [subscription]
    subscription.active = False
    subscription.save()
    assert subscriptions_for(Event.INTERACTION_RECORDED) == []
    subscription.active = True
    subscription.save()
    subscription.delete()
    assert subscriptions_for(Event.INTERACTION_RECORDED) == []


@pytest.mark.django_db
def test_with_the_cache_down_the_tables_are_read_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*_: Any, **__: Any) -> None:
        raise ConnectionError("Redis is down")

    StageDefaults()
    monkeypatch.setattr(cache, "get", down)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE interactions_channeldefault SET intensity = 4 WHERE channel = 'call'")
    assert StageDefaults().intensity("call") == 4
