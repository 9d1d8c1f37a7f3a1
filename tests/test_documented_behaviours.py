"""Promises the docs make that no other test held: each test names the section it holds,
and each would have caught one of the one-line bugs planted in issue 17."""

import io
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import MANAGERS
from customers.models import Customer
from dashboards.models import DailyStat
from integrations.models import APIKey, WebhookDelivery, WebhookSubscription
from memory.engine import SECONDS_PER_DAY, MemoryParameters, Touch, score_of
from memory.models import CustomerMemory
from memory.services import memory_parameters, memory_refresh, stale_customer_ids
from tests.factories import CustomerFactory, SegmentFactory, UserFactory, record

P = MemoryParameters()


@pytest.mark.django_db
def test_loss_aversion_comes_from_the_settings() -> None:
    """docs/memory-score.md section 9: MEMORY_LOSS_AVERSION is the model's lambda until a
    scoring version is made (section 13)."""
    bad = [Touch(1, 0.0, 1, "fulfilment", "complaint", -1, 3)]
    scores = [score_of(bad, SECONDS_PER_DAY, replace(P, loss_aversion=lam)) for lam in (1.5, 2.25, 3.0)]
    assert scores[0] > scores[1] > scores[2]
    with override_settings(MEMORY_MODEL={**settings.MEMORY_MODEL, "loss_aversion": 3.0}):
        assert memory_parameters().loss_aversion == 3.0


def test_softening_follows_the_best_recovery_not_the_first() -> None:
    """docs/memory-score.md section 1: a complaint is softened by how good its best
    recovery was (here the excellent one linked after a lukewarm one)."""
    complaint = Touch(1, 0.0, 1, "fulfilment", "complaint", -2, 4)
    lukewarm = Touch(2, 3600.0, 1, "fulfilment", "call", 1, 1, resolves_id=1)
    excellent = Touch(3, 7200.0, 1, "fulfilment", "call", 2, 5, resolves_id=1)
    as_of = 2 * SECONDS_PER_DAY
    both = score_of([complaint, lukewarm, excellent], as_of, P)
    lukewarm_unlinked = score_of([complaint, replace(lukewarm, resolves_id=None), excellent], as_of, P)
    # The lukewarm link adds its own moment only; the softening is the excellent one's.
    only_lukewarm = score_of([complaint, lukewarm, replace(excellent, resolves_id=None)], as_of, P)
    assert both >= lukewarm_unlinked - 1e-9
    assert both > only_lukewarm


@pytest.mark.django_db
def test_the_sweeper_finds_memories_behind_their_touchpoints_not_only_new_ones() -> None:
    """docs/operations.md (What happens when something fails): the sweeper re-queues any
    customer whose memory is behind its interactions."""
    current, behind, never = (CustomerFactory.create() for _ in range(3))
    for customer in (current, behind):
        record(customer)
        memory_refresh(customer_id=customer.pk)
    record(behind, days=2)  # stored; its refresh task was lost
    record(never, days=1)
    assert set(stale_customer_ids(limit=10)) == {behind.pk, never.pk}


@pytest.mark.django_db
def test_a_customer_with_nothing_recorded_is_not_stale() -> None:
    """The sweeper queues memories behind their touchpoints; a customer created with no
    touchpoint has nothing to be behind (and would be queued every minute for ever)."""
    CustomerFactory.create()
    assert stale_customer_ids(limit=10) == []


@pytest.mark.django_db
def test_memories_computed_under_other_numbers_are_stale_unless_a_switch_is_bringing_them_over() -> None:
    """docs/memory-score.md section 9: a memory whose parameters fingerprint no longer
    matches is queued by the sweeper; while a version is being applied the switch itself
    recomputes them, so the sweeper leaves them alone."""
    from memory.models import ApplyPhase, ScoringVersion
    from memory.services import scoring_version_draft

    current, outdated = CustomerFactory.create(), CustomerFactory.create()
    for customer in (current, outdated):
        record(customer)
        memory_refresh(customer_id=customer.pk)
    CustomerMemory.objects.filter(customer=outdated).update(parameters_fingerprint="computed-under-older-numbers")
    manager = UserFactory.create(roles=[MANAGERS])
    draft = scoring_version_draft(actor=manager, note="idle draft: no switch under way")
    assert stale_customer_ids(limit=10) == [outdated.pk]

    ScoringVersion.objects.filter(pk=draft.pk).update(apply_phase=ApplyPhase.COMPUTING)
    assert stale_customer_ids(limit=10) == []


@pytest.mark.django_db
def test_changed_parameters_force_a_full_recompute() -> None:
    """docs/memory-score.md section 9: a memory computed under other parameters is
    recomputed from the whole history, not folded onward."""
    customer = CustomerFactory.create()
    record(customer, channel="complaint", valence=-2)
    record(customer, days=1)
    first = memory_refresh(customer_id=customer.pk)
    with override_settings(MEMORY_MODEL={**settings.MEMORY_MODEL, "loss_aversion": 3.0}):
        again = memory_refresh(customer_id=customer.pk)
        assert again.full_recomputes == first.full_recomputes + 1
        assert again.score < first.score
    assert CustomerMemory.objects.get(customer=customer).parameters_fingerprint == again.parameters_fingerprint


@pytest.mark.django_db
def test_bulk_results_carry_each_items_own_index() -> None:
    """docs/api.md section 3: results are reported by the index of the item in `items`."""
    CustomerFactory.create(ref="C-1")
    _, key = APIKey.objects.create_key(name="bulk", scope="full")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    item = {"customer_ref": "C-1", "channel": "call", "valence": 1, "source": "crm",
            "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat()}  # fmt: skip
    items = [{**item, "external_id": f"i-{n}"} for n in range(4)]
    items[2]["valence"] = 9
    body = client.post("/api/v1/interactions/bulk/", {"items": items}, format="json").json()
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3]
    assert [r["status"] for r in body["results"]] == ["created", "created", "error", "created"]


@pytest.mark.django_db
def test_csv_imports_send_no_recorded_webhooks(tmp_path: Path, django_capture_on_commit_callbacks: Any) -> None:
    """docs/api.md section 8: imports do not send interaction.recorded webhooks (history
    is not news); a touchpoint pushed through the API does."""
    WebhookSubscription.objects.create(
        name="crm", url="https://hooks.example.com/r", secret="s" * 32, events=["interaction.recorded"]
    )
    CustomerFactory.create(ref="C-1")
    path = tmp_path / "history.csv"
    path.write_text(
        "customer_ref,channel,valence,occurred_at,source,external_id\nC-1,call,1,2026-01-05T10:00:00Z,old,h-1\n"
    )
    with django_capture_on_commit_callbacks(execute=False):
        call_command("import_interactions", str(path), "--no-progress", stdout=io.StringIO())
    assert not WebhookDelivery.objects.exists()
    _, key = APIKey.objects.create_key(name="push", scope="push")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    pushed = {"customer_ref": "C-1", "channel": "call", "valence": 1, "source": "crm", "external_id": "n-1",
              "occurred_at": timezone.now().isoformat()}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=False):
        assert client.post("/api/v1/interactions/", pushed, format="json").status_code == 201
    assert WebhookDelivery.objects.filter(event="interaction.recorded").count() == 1
    assert Customer.objects.count() == 1


def _reader() -> APIClient:
    _, key = APIKey.objects.create_key(name="reader", scope="read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.mark.django_db
def test_every_customer_filter_of_the_api_guide_narrows_the_list() -> None:
    """docs/api.md section 5: kind, segment, owner, q and score_min each narrow the list."""
    owner = UserFactory.create(username="olga")
    enterprise = SegmentFactory.create(name="Enterprise")
    alpha = CustomerFactory.create(ref="A-1", name="Alpha Trading", kind="business", segment=enterprise, owner=owner)
    beta = CustomerFactory.create(ref="B-1", name="Beta Person", kind="person")
    record(alpha, valence=2, intensity=5, at=timezone.now() - timedelta(hours=2))
    record(beta, channel="complaint", valence=-2, at=timezone.now() - timedelta(hours=2))
    for customer in (alpha, beta):
        memory_refresh(customer_id=customer.pk)
    client = _reader()

    def refs(query: str) -> list[str]:
        response = client.get(f"/api/v1/customers/?{query}")
        assert response.status_code == 200, response.json()
        return [c["ref"] for c in response.json()["results"]]

    assert refs("kind=person") == ["B-1"]
    assert refs("segment=Enterprise") == ["A-1"]
    assert refs("owner=olga") == ["A-1"]
    assert refs("q=trad") == ["A-1"]
    assert refs("score_min=50") == ["A-1"]
    assert refs("score_max=50") == ["B-1"]
    assert refs("ordering=-memory_score") == ["A-1", "B-1"]
    assert client.get("/api/v1/customers/?kind=robot").status_code == 400


@pytest.mark.django_db
def test_every_interaction_filter_of_the_api_guide_narrows_the_list() -> None:
    """docs/api.md section 5: segment, staff, source, journey and occurred_before."""
    staff = UserFactory.create(username="kim")
    enterprise = SegmentFactory.create(name="Enterprise")
    a, b = CustomerFactory.create(segment=enterprise), CustomerFactory.create()
    now = timezone.now()
    first = record(a, at=now - timedelta(days=10), staff=staff, source="helpdesk")
    record(a, at=now - timedelta(days=1))
    record(b, at=now - timedelta(days=2))
    client = _reader()

    def count(query: str) -> int:
        response = client.get(f"/api/v1/interactions/?{query}")
        assert response.status_code == 200, response.json()
        return len(response.json()["results"])

    assert count("segment=Enterprise") == 2
    assert count("staff=kim") == 1
    assert count("source=helpdesk") == 1
    in_journey = a.interactions.filter(journey_id=first.journey_id).count()
    assert count(f"journey={first.journey_id}") == in_journey >= 1
    before = (now - timedelta(days=5)).isoformat().replace("+", "%2B")
    assert count(f"occurred_before={before}") == 1


@pytest.mark.django_db
@pytest.mark.parametrize("size", ["0", "501", "ten", "-1"])
def test_a_page_size_outside_1_to_500_is_a_400_naming_it(size: str) -> None:
    """docs/api.md section 5: page_size is 1..500."""
    response = _reader().get(f"/api/v1/interactions/?page_size={size}")
    assert response.status_code == 400
    assert "page_size" in response.json()


@pytest.mark.django_db
def test_a_page_size_is_honoured_and_pages_do_not_shift_as_rows_arrive() -> None:
    """docs/api.md section 5: new rows never shift a page you are reading."""
    customer = CustomerFactory.create()
    now = timezone.now()
    for n in range(5):
        record(customer, at=now - timedelta(days=n + 1))
    client = _reader()
    first = client.get("/api/v1/interactions/?page_size=2").json()
    assert len(first["results"]) == 2
    record(customer, at=now - timedelta(minutes=1))  # newest, lands before the cursor
    rest = client.get(first["next"]).json()
    seen = [i["id"] for i in first["results"]] + [i["id"] for i in rest["results"]]
    assert len(seen) == len(set(seen)) == 4


@pytest.mark.django_db
def test_not_json_is_a_406_or_a_415() -> None:
    """docs/api.md section 6: 406 when the Accept header asks for something else, 415 when
    the body is not JSON."""
    _, key = APIKey.objects.create_key(name="push", scope="full")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/interactions/", HTTP_ACCEPT="text/html").status_code == 406
    response = client.generic("POST", "/api/v1/interactions/", "channel=call", content_type="text/plain")
    assert response.status_code == 415


STAT_FIELDS = ("day", "stage_id", "channel", "segment_id", "owner_id", "staff_id", "count", "negative_count")


def _stats() -> list[tuple[Any, ...]]:
    rows = DailyStat.objects.order_by(*STAT_FIELDS[:6]).values_list(*STAT_FIELDS, "positive_sum", "negative_sum")
    return [(*row[:8], round(row[8], 6), round(row[9], 6)) for row in rows]


@pytest.mark.django_db
def test_rebuild_dashboard_stats_recounts_what_the_write_path_counted() -> None:
    """README (commands): rebuild_dashboard_stats recounts the daily statistics from every
    interaction, to the same rows the write path keeps up to date."""
    gold = SegmentFactory.create(name="Gold")
    owner = UserFactory.create()
    a = CustomerFactory.create(segment=gold, owner=owner)
    b = CustomerFactory.create()
    for day, (customer, channel, valence) in enumerate(
        [(a, "call", 2), (a, "complaint", -2), (b, "email", 1), (b, "complaint", -1), (a, "call", 1)]
    ):
        record(customer, at=timezone.now() - timedelta(days=day % 3, hours=day), channel=channel, valence=valence)
    kept = _stats()
    assert sum(row[6] for row in kept) == 5
    assert len(kept) >= 4
    DailyStat.objects.all().delete()
    DailyStat.objects.create(day=timezone.now().date(), stage_id=1, channel="call", count=99)  # drifted
    out = io.StringIO()
    call_command("rebuild_dashboard_stats", stdout=out)
    assert "Recounted 5 touchpoints" in out.getvalue()
    assert _stats() == kept


@pytest.mark.django_db(transaction=True)
def test_recompute_scores_by_segment_in_processes_touches_only_that_segment() -> None:
    """README (commands): recompute_scores --segment NAME --processes N recomputes that
    segment's customers, each process with its own connection, and no one else."""
    gold, silver = SegmentFactory.create(name="Gold"), SegmentFactory.create(name="Silver")
    golden = [CustomerFactory.create(segment=gold) for _ in range(4)]
    others = [CustomerFactory.create(segment=silver) for _ in range(2)]
    touched = {
        customer.pk: record(customer, at=timezone.now() - timedelta(days=2), channel="complaint", valence=-2).pk
        for customer in golden + others
    }
    out = io.StringIO()
    call_command("recompute_scores", "--segment", "Gold", "--processes", "2", "--no-progress", stdout=out)
    assert "Recomputed 4 customers" in out.getvalue()
    scored = set(CustomerMemory.objects.values_list("customer_id", flat=True))
    assert scored == {c.pk for c in golden}
    for customer in golden:  # each from its whole history: the complaint is in it
        memory = CustomerMemory.objects.get(customer=customer)
        assert memory.max_interaction_id == touched[customer.pk]
        assert memory.band == "at_risk"


@pytest.mark.django_db
def test_a_lockout_ends_when_the_cool_off_has_passed(client: Any) -> None:
    """docs/operations.md: five failed logins lock the pair out for AXES_COOLOFF_MINUTES
    (15); after that, the right password works again."""
    UserFactory.create(username="victim")
    for _ in range(5):
        client.post("/login/", {"username": "victim", "password": "guess"})
    assert client.post("/login/", {"username": "victim", "password": "pw-for-tests-only"}).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME + timedelta(minutes=1))
    assert client.post("/login/", {"username": "victim", "password": "pw-for-tests-only"}).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=5))
    response = client.post("/login/", {"username": "victim", "password": "pw-for-tests-only"})
    assert response.status_code == 302  # signed in


@pytest.mark.django_db
def test_the_timeline_filters_by_channel_and_stage(client: Any) -> None:
    """README (pages): the customer page's timeline is filterable (channel, stage)."""
    customer = CustomerFactory.create()
    record(
        customer, at=timezone.now() - timedelta(days=3), channel="call", summary="Kick-off call", stage="anticipation"
    )
    record(
        customer, at=timezone.now() - timedelta(days=2), channel="email", summary="Invoice e-mail", stage="evaluation"
    )
    record(customer, at=timezone.now() - timedelta(days=1), channel="call", summary="Check-in call", stage="evaluation")
    client.force_login(UserFactory.create(roles=[MANAGERS]))

    def shown(query: str) -> set[str]:
        page = client.get(f"/customers/{customer.pk}/{query}").content.decode()
        return {s for s in ("Kick-off call", "Invoice e-mail", "Check-in call") if s in page}

    assert shown("") == {"Kick-off call", "Invoice e-mail", "Check-in call"}
    assert shown("?channel=call") == {"Kick-off call", "Check-in call"}
    assert shown("?stage=evaluation") == {"Invoice e-mail", "Check-in call"}
    assert shown("?channel=call&stage=evaluation") == {"Check-in call"}
