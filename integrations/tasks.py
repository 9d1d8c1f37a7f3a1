"""Webhook delivery in the background. The services log what to send; these queue and send it.

Tasks depend on services, never the reverse: a service that logs deliveries returns their
ids, and `webhooks_emit` (what the other apps call) logs and queues in one step.
"""

from collections.abc import Iterable
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from config.tasking import enqueue_after_commit
from integrations.models import Event, WebhookSubscription
from integrations.services import (
    MAX_ATTEMPTS,
    stranded_delivery_ids,
    unrecovered_complaint_alerts,
    webhook_deliver,
    webhook_deliveries_record,
)

RETRY_CAP_SECONDS = 600


def retry_delay(retries: int) -> int:
    """Capped exponential backoff: 10 s, 20 s, 40 s ... at most 10 minutes apart."""
    return min(RETRY_CAP_SECONDS, 10 * 2**retries)


@shared_task(bind=True, acks_late=True, max_retries=MAX_ATTEMPTS, time_limit=60, soft_time_limit=50)
def deliver_webhook(self, delivery_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        done = webhook_deliver(delivery_id=delivery_id)
    except (OperationalError, InterfaceError) as exc:
        raise self.retry(exc=exc, countdown=retry_delay(self.request.retries)) from exc
    if not done:
        raise self.retry(countdown=retry_delay(self.request.retries))


@shared_task(acks_late=True, time_limit=300)
def notify_unrecovered_complaints() -> int:
    logged = unrecovered_complaint_alerts()
    queue_deliveries(logged)
    return len(logged)


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def resend_stranded_deliveries() -> int:
    """Pending deliveries nobody is working on (their task was lost with the broker, or a
    worker died) are queued again; delivery is idempotent."""
    ids = stranded_delivery_ids()
    for delivery_id in ids:
        deliver_webhook.delay(delivery_id)
    return len(ids)


def queue_deliveries(delivery_ids: Iterable[int]) -> None:
    """Send each delivery after the logging transaction commits (a lost message is found
    again by resend_stranded_deliveries: the delivery log is the outbox)."""
    for delivery_id in delivery_ids:
        enqueue_after_commit(deliver_webhook, delivery_id, outside_request=True)


def webhooks_emit(
    *,
    event: Event,
    items: list[tuple[str, dict[str, Any]]],
    subscriptions: list[WebhookSubscription] | None = None,
) -> int:
    """Log `event` for every subscription that wants it (or the ones given) and queue the
    new deliveries; `items` are (key, payload), a key already logged is sent once. Returns
    how many were queued."""
    logged = webhook_deliveries_record(event=event, items=items, subscriptions=subscriptions)
    queue_deliveries(logged)
    return len(logged)
