"""Outgoing webhooks, delivered to a real HTTP receiver on 127.0.0.1."""

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import APIKey, DeliveryStatus, Event, WebhookDelivery, WebhookSubscription
from integrations.services import (
    MAX_ATTEMPTS,
    stranded_delivery_ids,
    unrecovered_complaint_alerts,
    webhook_deliver,
)
from integrations.signing import HEADER, sign, verify
from integrations.tasks import (
    deliver_webhook,
    notify_unrecovered_complaints,
    resend_stranded_deliveries,
    retry_delay,
    webhooks_emit,
)
from interactions.services import interaction_change, interaction_delete
from memory.services import memory_refresh
from tests.factories import CustomerFactory, record

pytestmark = pytest.mark.django_db


class Receiver:
    """A webhook endpoint that answers with the next status in `script` (then 200)."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                time.sleep(receiver.delay)
                code = receiver.script.pop(0) if receiver.script else 200
                self.send_response(code)
                if 300 <= code < 400:
                    self.send_header("Location", "ftp://10.0.0.1/elsewhere")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(autouse=True)
def on_premises(settings: Any) -> None:
    """These tests' receiver listens on 127.0.0.1: the on-premises allowance. The tests of
    the refusal turn it off again."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _subscribe(receiver: Receiver, *events: Event, **extra: Any) -> WebhookSubscription:
    return WebhookSubscription.objects.create(name="crm", url=receiver.url, events=[e.value for e in events], **extra)


def test_signature_verifies_and_rejects_tampering_and_old_replays() -> None:
    body = b'{"event": "x"}'
    header = sign("s3cret", body)
    assert verify("s3cret", body, header)
    assert not verify("s3cret", body + b" ", header)
    assert not verify("other", body, header)
    assert not verify("s3cret", body, sign("s3cret", body, int(time.time()) - 3600))
    assert not verify("s3cret", body, "garbage")


def test_recorded_touchpoint_is_delivered_signed(receiver: Receiver, django_capture_on_commit_callbacks: Any) -> None:
    subscription = _subscribe(receiver, Event.INTERACTION_RECORDED)
    customer = CustomerFactory.create(ref="ACME")
    with django_capture_on_commit_callbacks(execute=True):
        interaction = record(customer, channel="complaint", valence=-2, at=timezone.now())
    headers, body = receiver.requests[0]
    assert verify(subscription.secret, body, headers[HEADER])
    payload = json.loads(body)
    assert headers["X-Rememberly-Event"] == "interaction.recorded"
    assert payload["interaction"]["id"] == interaction.pk
    assert payload["interaction"]["customer_ref"] == "ACME"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)


def test_corrections_are_not_news(receiver: Receiver) -> None:
    """docs/api.md section 7: `interaction.recorded` is sent when a touchpoint is stored,
    not when it is corrected or deleted."""
    _subscribe(receiver, Event.INTERACTION_RECORDED)
    interaction = record(CustomerFactory.create(), channel="complaint", valence=-2, at=timezone.now())
    assert WebhookDelivery.objects.count() == 1
    interaction_change(interaction=interaction, valence=-1, reason="typo")
    interaction_delete(interaction=interaction, reason="duplicate of a phone note")
    assert WebhookDelivery.objects.count() == 1


def test_failed_delivery_is_retried_then_succeeds(receiver: Receiver) -> None:
    _subscribe(receiver, Event.INTERACTION_RECORDED)
    receiver.script = [500, 503]
    webhooks_emit(event=Event.INTERACTION_RECORDED, items=[("k-1", {"hello": 1})])
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery_id=delivery.pk) is False
    assert webhook_deliver(delivery_id=delivery.pk) is False
    assert webhook_deliver(delivery_id=delivery.pk) is True
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert webhook_deliver(delivery_id=delivery.pk) is True  # idempotent: nothing sent again
    assert len(receiver.requests) == 3


def test_delivery_gives_up_after_the_last_attempt(receiver: Receiver) -> None:
    _subscribe(receiver, Event.INTERACTION_RECORDED)
    receiver.script = [500] * 10
    webhooks_emit(event=Event.INTERACTION_RECORDED, items=[("k-1", {})])
    delivery = WebhookDelivery.objects.get()
    outcomes = [webhook_deliver(delivery_id=delivery.pk) for _ in range(MAX_ATTEMPTS)]
    assert outcomes == [False] * (MAX_ATTEMPTS - 1) + [True]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        DeliveryStatus.FAILED,
        MAX_ATTEMPTS,
        "HTTP 500",
    )


def test_the_task_retries_with_capped_backoff() -> None:
    assert [retry_delay(n) for n in range(8)] == [10, 20, 40, 80, 160, 320, 600, 600]
    # The first attempt plus the retries make MAX_ATTEMPTS: the delivery gives up itself
    # on its last attempt, before Celery would run out of retries.
    assert (deliver_webhook.max_retries or 0) >= MAX_ATTEMPTS - 1


def test_unreachable_receiver_is_logged_not_raised() -> None:
    WebhookSubscription.objects.create(name="gone", url="http://127.0.0.1:9/hook", events=["interaction.recorded"])
    webhooks_emit(event=Event.INTERACTION_RECORDED, items=[("k", {})])
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery_id=delivery.pk) is False
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.last_error


def test_same_event_is_logged_once(receiver: Receiver) -> None:
    _subscribe(receiver, Event.INTERACTION_RECORDED)
    assert webhooks_emit(event=Event.INTERACTION_RECORDED, items=[("k-1", {})]) == 1
    webhooks_emit(event=Event.INTERACTION_RECORDED, items=[("k-1", {})])
    assert WebhookDelivery.objects.count() == 1


def test_subscriptions_only_get_their_events(receiver: Receiver) -> None:
    _subscribe(receiver, Event.BAND_CHANGED)
    WebhookSubscription.objects.create(name="off", url=receiver.url, events=["interaction.recorded"], active=False)
    assert webhooks_emit(event=Event.INTERACTION_RECORDED, items=[("k", {})]) == 0


def test_band_change_is_announced(receiver: Receiver) -> None:
    _subscribe(receiver, Event.BAND_CHANGED)
    customer = CustomerFactory.create(ref="ACME")
    record(customer, channel="complaint", valence=-2, at=timezone.now() - timedelta(hours=1))
    memory_refresh(customer_id=customer.pk)
    memory_refresh(customer_id=customer.pk)  # same band: nothing new
    delivery = WebhookDelivery.objects.get()
    assert delivery.payload["previous_band"] == "neutral"
    assert delivery.payload["band"] == "at_risk"
    assert delivery.payload["customer"]["ref"] == "ACME"


def test_complaint_waiting_too_long_is_announced_once(
    receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    _subscribe(receiver, Event.COMPLAINT_UNRECOVERED, complaint_wait_hours=24)
    customer = CustomerFactory.create()
    now = timezone.now()
    waiting = record(customer, channel="complaint", valence=-1, at=now - timedelta(hours=30))
    record(customer, channel="complaint", valence=-1, at=now - timedelta(hours=2))  # not yet
    recovered = record(customer, channel="complaint", valence=-2, at=now - timedelta(hours=40))
    record(customer, valence=2, resolves=recovered, at=now - timedelta(hours=39))
    assert len(unrecovered_complaint_alerts()) == 1
    assert unrecovered_complaint_alerts() == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.payload["complaint"]["id"] == waiting.pk
    assert delivery.payload["complaint"]["waiting_hours"] == 30
    # The beat task queues what it logged: the receiver gets it once the logging commits.
    WebhookDelivery.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert notify_unrecovered_complaints() == 1
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED
    with django_capture_on_commit_callbacks(execute=True):
        assert notify_unrecovered_complaints() == 0


def test_admin_shows_the_delivery_log(client: Any, administrator: Any, receiver: Receiver) -> None:
    _subscribe(receiver, Event.INTERACTION_RECORDED)
    webhooks_emit(event=Event.INTERACTION_RECORDED, items=[("k", {})])
    client.force_login(administrator)
    for url in (
        "/admin/integrations/webhookdelivery/",
        "/admin/integrations/webhooksubscription/",
        "/admin/integrations/apikey/",
    ):
        assert client.get(url).status_code == 200


def test_stranded_pending_deliveries_are_found_for_resending(receiver: Receiver) -> None:
    _subscribe(receiver, Event.INTERACTION_RECORDED)
    webhooks_emit(event=Event.INTERACTION_RECORDED, items=[("old", {}), ("new", {})])
    old = WebhookDelivery.objects.get(event_key="old")
    WebhookDelivery.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert stranded_delivery_ids() == [old.pk]
    webhook_deliver(delivery_id=old.pk)
    assert stranded_delivery_ids() == []


# --- where webhooks may go (security audit #9 and #10) ------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/hook",
        "http://192.168.1.5/hook",
        "http://[fd00::1]/hook",
        "http://2130706433/hook",  # 127.0.0.1 written as a number
    ],
)
def test_private_loopback_and_link_local_targets_are_refused(url: str, settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    subscription = WebhookSubscription(name="probe", url=url, events=[Event.INTERACTION_RECORDED.value])
    with pytest.raises(ValidationError) as refused:
        subscription.full_clean()
    assert "public addresses only" in str(refused.value.message_dict["url"])


def test_on_premises_allowance_still_refuses_the_metadata_address(settings: Any) -> None:
    events = [Event.INTERACTION_RECORDED.value]
    subscription = WebhookSubscription(name="meta", url="http://169.254.169.254/", events=events)
    with pytest.raises(ValidationError):
        subscription.full_clean()
    WebhookSubscription(name="lan", url="http://10.0.0.1/hook", events=events).full_clean()  # allowed on-premises


def test_a_target_that_turned_private_is_refused_at_delivery(receiver: Receiver, settings: Any) -> None:
    """Checked again at delivery: a subscription saved while allowed (or a host that now
    resolves elsewhere) is not sent to, and not retried."""
    _subscribe(receiver, Event.INTERACTION_RECORDED)
    record(CustomerFactory.create(), channel="call")
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery_id=delivery.pk) is True
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert "public addresses only" in delivery.last_error
    assert receiver.requests == []


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    _subscribe(receiver, Event.INTERACTION_RECORDED)
    receiver.script = [307]
    record(CustomerFactory.create(), channel="call")
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery_id=delivery.pk) is False
    delivery.refresh_from_db()
    assert delivery.last_status_code == 307
    assert "not followed" in delivery.last_error
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_a_slow_receiver_never_holds_up_the_request(receiver: Receiver, settings: Any) -> None:
    """Security audit #10: in-process tasks delivered inside the request, so a receiver
    that never answers made a bulk push wait items x subscribers x the timeout."""
    settings.EMBEDDED_BACKGROUND_THREADS = True
    receiver.delay = 3.0
    _subscribe(receiver, Event.INTERACTION_RECORDED)
    client = APIClient()
    _, key = APIKey.objects.create_key(name="helpdesk", scope="push")
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    items = [
        {"customer_ref": "SLOW-1", "customer_name": "Slow", "channel": "call", "valence": 1,
         "occurred_at": timezone.now().isoformat(), "source": "t", "external_id": f"slow-{n}"}
        for n in range(3)
    ]  # fmt: skip
    started = time.monotonic()
    response = client.post("/api/v1/interactions/bulk/", {"items": items}, format="json")
    took = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["created"] == 3
    assert took < 2.0, took  # the deliveries (3 x 3 s) happen elsewhere
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and WebhookDelivery.objects.filter(status="delivered").count() < 3:
        time.sleep(0.2)
    assert WebhookDelivery.objects.filter(status="delivered").count() == 3, list(
        WebhookDelivery.objects.values_list("status", "attempts", "last_error")
    )


def test_the_body_and_headers_are_as_the_api_guide_says(
    receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    """docs/api.md section 7: the documented payload fields, `event`, `delivery` (the same
    on a retry) and `sent_at` in the body; the event, delivery and signature headers."""
    _subscribe(receiver, Event.INTERACTION_RECORDED)
    receiver.script = [503]  # the first attempt fails; the retry carries the same delivery id
    customer = CustomerFactory.create(ref="ACME")
    with django_capture_on_commit_callbacks(execute=False):  # delivered by hand below
        interaction = record(customer, channel="email", valence=1, at=timezone.now(), source="crm", external_id="m-1")
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery_id=delivery.pk) is False
    assert webhook_deliver(delivery_id=delivery.pk) is True
    assert len(receiver.requests) == 2
    for headers, body in receiver.requests:
        payload = json.loads(body)
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Rememberly-Event"] == payload["event"] == "interaction.recorded"
        assert headers["X-Rememberly-Delivery"] == str(payload["delivery"]) == str(delivery.pk)
        assert headers[HEADER].startswith("t=")
        assert ",v1=" in headers[HEADER]
        assert datetime.fromisoformat(payload["sent_at"].replace("Z", "+00:00")).tzinfo is not None
        assert set(payload["interaction"]) >= {
            "id", "customer", "customer_ref", "channel", "valence", "occurred_at", "source", "external_id",
        }  # fmt: skip
        assert payload["interaction"]["id"] == interaction.pk
        assert (payload["interaction"]["source"], payload["interaction"]["external_id"]) == ("crm", "m-1")


def test_deliveries_stranded_by_a_lost_task_are_sent_again_by_the_beat_task(receiver: Receiver) -> None:
    """docs/operations.md (beat schedule): pending deliveries nobody works on are queued
    again; one that is young, or that a worker is trying now, is left alone."""
    _subscribe(receiver, Event.INTERACTION_RECORDED)
    webhooks_emit(event=Event.INTERACTION_RECORDED, items=[("lost", {}), ("young", {})])
    WebhookDelivery.objects.filter(event_key="lost").update(created_at=timezone.now() - timedelta(hours=1))
    assert resend_stranded_deliveries() == 1  # eager in tests: delivered on the spot
    lost, young = WebhookDelivery.objects.get(event_key="lost"), WebhookDelivery.objects.get(event_key="young")
    assert lost.status == DeliveryStatus.DELIVERED
    assert lost.attempts == 1
    assert young.status == DeliveryStatus.PENDING
    assert young.attempts == 0
    assert [headers["X-Rememberly-Delivery"] for headers, _ in receiver.requests] == [str(lost.pk)]
    assert resend_stranded_deliveries() == 0  # delivered: never sent twice


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt_retried_later(
    receiver: Receiver, settings: Any
) -> None:
    """docs/api.md section 7: answer 2xx within the timeout (10 s by default; 1 s here),
    anything else is retried."""
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    receiver.delay = 3.0
    _subscribe(receiver, Event.INTERACTION_RECORDED)
    webhooks_emit(event=Event.INTERACTION_RECORDED, items=[("slow", {})])
    delivery = WebhookDelivery.objects.get(event_key="slow")
    assert webhook_deliver(delivery_id=delivery.pk) is False  # not done: to be retried
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert delivery.last_status_code is None
    assert "timed out" in delivery.last_error
    receiver.delay = 0.0
    assert webhook_deliver(delivery_id=delivery.pk) is True
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 2
