from celery import shared_task
from django.db import InterfaceError, OperationalError

from integrations.services import MAX_ATTEMPTS, stranded_delivery_ids, unrecovered_complaint_alerts, webhook_deliver

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
    return unrecovered_complaint_alerts()


@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def resend_stranded_deliveries() -> int:
    """Pending deliveries nobody is working on (their task was lost with the broker, or a
    worker died) are queued again; delivery is idempotent."""
    ids = stranded_delivery_ids()
    for delivery_id in ids:
        deliver_webhook.delay(delivery_id)
    return len(ids)
