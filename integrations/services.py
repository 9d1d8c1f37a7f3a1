"""Outgoing webhooks: record what to send (the delivery log), then send it, signed."""

import http.client
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from config.kept import KeptTable, keep_current
from integrations.egress import ForbiddenDestination, opener_for, resolve_destination
from integrations.models import DeliveryStatus, Event, WebhookDelivery, WebhookSubscription
from integrations.signing import HEADER, sign
from interactions.models import Channel, Interaction

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
# A pending delivery untouched for this long has lost its task: the longest retry wait
# (10 minutes) plus a margin.
STRANDED_AFTER = timedelta(minutes=15)
# Complaints older than this are history, not news: no alert is raised for them.
UNRECOVERED_LOOKBACK = timedelta(days=30)


# Asked on every write, changed by an administrator now and then (config/kept.py).
ACTIVE_SUBSCRIPTIONS = KeptTable("webhook-subscriptions", lambda: list(WebhookSubscription.objects.filter(active=True)))


def keep_subscriptions_current() -> None:
    keep_current(ACTIVE_SUBSCRIPTIONS, WebhookSubscription)


def subscriptions_for(event: Event) -> list[WebhookSubscription]:
    return [s for s in ACTIVE_SUBSCRIPTIONS.get() if s.wants(event)]


@transaction.atomic
def webhook_deliveries_record(
    *,
    event: Event,
    items: list[tuple[str, dict[str, Any]]],
    subscriptions: list[WebhookSubscription] | None = None,
) -> list[int]:
    """Log `event` for every subscription that wants it (or the ones given); `items` are
    (key, payload). A key already logged for a subscription is not logged again, so noticing
    the same event twice (a sweeper, a retry) delivers it once. Returns the ids of the new
    deliveries: the caller queues them (integrations.tasks.webhooks_emit does both).
    """
    if subscriptions is None:
        subscriptions = subscriptions_for(event)
    if not subscriptions or not items:
        return []
    rows = [
        WebhookDelivery(subscription=s, event=event, event_key=key, payload={"event": event.value, **payload})
        for s in subscriptions
        for key, payload in items
    ]
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return list(
        WebhookDelivery.objects.filter(
            subscription__in=subscriptions,
            event_key__in=[key for key, _ in items],
            status=DeliveryStatus.PENDING,
            attempts=0,
        ).values_list("id", flat=True)
    )


def webhook_deliver(*, delivery_id: int) -> bool:
    """Try to send one delivery. True when done (sent, given up, or nothing to do)."""
    with transaction.atomic():
        # SKIP LOCKED: if another worker is sending this delivery right now, leave it.
        # OF self: locking the joined subscription row too made every other delivery to
        # the same receiver skip itself while one was in flight.
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return True
        body = json.dumps(
            {**delivery.payload, "delivery": delivery.pk, "sent_at": timezone.now()}, cls=DjangoJSONEncoder
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - administrators configure http(s) URLs only
            delivery.subscription.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Rememberly-Webhooks/1",
                "X-Rememberly-Event": delivery.event,
                "X-Rememberly-Delivery": str(delivery.pk),
                HEADER: sign(delivery.subscription.secret, body),
            },
        )
        delivery.attempts += 1
        delivery.last_attempt_at = timezone.now()
        try:
            # Checked again now: the host may resolve elsewhere than when it was saved.
            _, address, _ = resolve_destination(delivery.subscription.url)
            opener = opener_for(address)
            with opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
                delivery.last_status_code = response.status
                delivery.last_error = ""
                ok = 200 <= response.status < 300
        except ForbiddenDestination as exc:
            delivery.last_status_code, delivery.last_error, ok = None, str(exc)[:500], False
            delivery.attempts = MAX_ATTEMPTS  # a refused destination is not retried
        except urllib.error.HTTPError as exc:
            redirect = " (redirects are not followed)" if 300 <= exc.code < 400 else ""
            delivery.last_status_code, delivery.last_error, ok = exc.code, f"HTTP {exc.code}{redirect}", False
        except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
            delivery.last_status_code, delivery.last_error, ok = None, str(exc)[:500], False
        if ok:
            delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, timezone.now()
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = DeliveryStatus.FAILED
            logger.warning("webhook delivery %s gave up after %d attempts", delivery.pk, delivery.attempts)
        delivery.save()
        return delivery.status != DeliveryStatus.PENDING


def stranded_delivery_ids(limit: int = 1000) -> list[int]:
    cutoff = timezone.now() - STRANDED_AFTER
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, created_at__lt=cutoff)
        .filter(models.Q(last_attempt_at__isnull=True) | models.Q(last_attempt_at__lt=cutoff))
        .order_by("created_at")
        .values_list("id", flat=True)[:limit]
    )


def interaction_payloads(interactions: Iterable[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            f"interaction:{i.pk}",
            {
                "interaction": {
                    "id": i.pk,
                    "customer": i.customer_id,
                    "customer_ref": i.customer.ref,
                    "channel": i.channel,
                    "valence": i.valence,
                    "occurred_at": i.occurred_at.isoformat(),
                    "source": i.source,
                    "external_id": i.external_id,
                }
            },
        )
        for i in interactions
    ]


def band_change_payloads(changes: Iterable[Any]) -> list[tuple[str, dict[str, Any]]]:
    """Items of `customer.band_changed` from the memory engine's BandChange records."""
    return [
        (
            f"band:{c.customer_id}:{c.at.isoformat()}",
            {
                "customer": {"id": c.customer_id, "ref": c.ref},
                "previous_band": c.previous_band,
                "band": c.band,
                "score": round(c.score, 2),
                "score_as_of": c.at.isoformat(),
            },
        )
        for c in changes
    ]


def unrecovered_complaint_alerts() -> list[int]:
    """Log complaint.unrecovered for complaints that waited past each subscription's limit;
    the ids of the new deliveries, to be queued."""
    logged: list[int] = []
    now = timezone.now()
    for subscription in WebhookSubscription.objects.filter(active=True):
        if not subscription.wants(Event.COMPLAINT_UNRECOVERED):
            continue
        waiting = (
            Interaction.objects.filter(
                channel=Channel.COMPLAINT,
                resolved_on_first_contact=False,
                resolutions__isnull=True,
                occurred_at__lt=now - timedelta(hours=subscription.complaint_wait_hours),
                occurred_at__gte=now - UNRECOVERED_LOOKBACK,
            )
            .exclude(_already_alerted(subscription))
            .select_related("customer")[:1000]
        )
        items = [
            (
                f"complaint:{c.pk}",
                {
                    "complaint": {
                        "id": c.pk,
                        "customer": c.customer_id,
                        "customer_ref": c.customer.ref,
                        "occurred_at": c.occurred_at.isoformat(),
                        "waiting_hours": int((now - c.occurred_at).total_seconds() // 3600),
                        "summary": c.summary,
                    }
                },
            )
            for c in waiting
        ]
        logged += webhook_deliveries_record(
            event=Event.COMPLAINT_UNRECOVERED, items=items, subscriptions=[subscription]
        )
    return logged


def _already_alerted(subscription: WebhookSubscription) -> Exists:
    return Exists(
        WebhookDelivery.objects.filter(
            subscription=subscription,
            event_key=Concat(Value("complaint:"), Cast(OuterRef("pk"), CharField()), output_field=CharField()),
        )
    )
