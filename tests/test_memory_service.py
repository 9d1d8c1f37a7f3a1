"""The memory engine wired to the database: running state, recomputes, sweeper, trends."""

import time
from datetime import timedelta
from typing import Any

import psycopg2
import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks

from config.celery import app as celery_app
from customers.models import Customer
from interactions.services import interaction_change, interaction_delete
from journeys.models import Journey
from memory.models import CustomerMemory, ScoreSnapshot
from memory.services import (
    memory_parameters,
    memory_recompute_many,
    memory_refresh,
    memory_refresh_stale,
    stale_customer_ids,
)
from memory.tasks import (
    DRAIN_STARTED,
    REFRESH_QUEUED,
    refresh_all_memories,
    refresh_stale_memories,
    schedule_memory_refresh,
    sweep_stale_memories,
)
from tests.broker import purge_queue, queued_messages
from tests.convergence import memory_mismatches
from tests.factories import T0, CustomerFactory, record

pytestmark = pytest.mark.django_db


def _memory(customer: Customer) -> CustomerMemory:
    return CustomerMemory.objects.get(customer=customer)


def _full_score(customer: Customer, as_of: object) -> float:
    fresh = CustomerFactory.create()
    for interaction in customer.interactions.order_by("occurred_at", "id"):
        record(
            fresh,
            at=interaction.occurred_at,
            channel=interaction.channel,
            valence=interaction.valence,
            intensity=interaction.intensity,
        )
    return memory_refresh(customer_id=fresh.pk, as_of=as_of).score  # type: ignore[arg-type]


def test_each_new_touchpoint_updates_the_running_state_without_recomputing(customer: Customer) -> None:
    as_of = T0 + timedelta(days=30)
    for day in range(10):
        record(customer, days=day, valence=(day % 5) - 2)
        memory_refresh(customer_id=customer.pk, as_of=as_of)
    memory = _memory(customer)
    assert memory.full_recomputes == 1  # only the very first refresh (no state yet)
    incremental = memory.score
    forced = memory_refresh(customer_id=customer.pk, as_of=as_of, force_recompute=True)
    assert forced.score == pytest.approx(incremental, abs=1e-9)


def test_out_of_order_arrival_recomputes_that_customer_only() -> None:
    late_one, bystander = CustomerFactory.create(), CustomerFactory.create()
    for customer in (late_one, bystander):
        record(customer, days=10)
        memory_refresh(customer_id=customer.pk)
    record(late_one, days=2, valence=-2)  # happened before what we already know
    record(bystander, days=11)
    for customer in (late_one, bystander):
        memory_refresh(customer_id=customer.pk)
    assert _memory(late_one).full_recomputes == 2
    assert _memory(bystander).full_recomputes == 1


def test_edit_and_delete_recompute_and_match_a_fresh_history(customer: Customer) -> None:
    as_of = T0 + timedelta(days=20)
    keep = record(customer, days=0, valence=1)
    gone = record(customer, days=1, channel="complaint", valence=-2)
    record(customer, days=2, valence=2)
    memory_refresh(customer_id=customer.pk, as_of=as_of)
    interaction_change(interaction=keep, valence=-1)
    interaction_delete(interaction=gone)
    memory = memory_refresh(customer_id=customer.pk, as_of=as_of)
    assert memory.full_recomputes == 2
    assert memory.score == pytest.approx(_full_score(customer, as_of), abs=1e-9)


def test_journey_values_name_their_peak_and_end(customer: Customer) -> None:
    start = record(customer, days=0, valence=1)
    complaint = record(customer, days=1, channel="complaint", valence=-2)
    end = record(customer, days=2, valence=1)
    memory_refresh(customer_id=customer.pk)
    journey = Journey.objects.get(pk=start.journey_id)
    assert journey.peak_interaction_id == complaint.pk
    assert journey.end_interaction_id == end.pk
    assert journey.remembered_value is not None
    assert journey.remembered_value < 0


def test_breakdown_is_stored_with_peak_end_components_and_stages(customer: Customer) -> None:
    complaint = record(customer, days=0, channel="complaint", valence=-2)
    last = record(customer, days=1, valence=1, channel="email")
    memory = memory_refresh(customer_id=customer.pk)
    assert memory.breakdown["peak"]["touch_id"] == complaint.pk
    assert memory.breakdown["end"]["touch_id"] == last.pk
    assert set(memory.breakdown["stages"]) == {"fulfilment", "inspection"}
    assert memory.last_interaction_at == last.occurred_at


def test_memory_fades_with_time_when_nothing_happens(customer: Customer) -> None:
    record(customer, days=0, valence=2, intensity=5)
    fresh = memory_refresh(customer_id=customer.pk, as_of=T0).score
    later = memory_refresh(customer_id=customer.pk, as_of=T0 + timedelta(days=180)).score
    assert fresh > later > 50


def test_snapshots_give_seven_and_thirty_day_trends(customer: Customer) -> None:
    record(customer, days=0, channel="complaint", valence=-2)
    first = memory_refresh(customer_id=customer.pk, as_of=T0 + timedelta(hours=1))
    record(customer, days=31, valence=2, intensity=5)
    now = T0 + timedelta(days=31, hours=1)
    latest = memory_refresh(customer_id=customer.pk, as_of=now)
    assert latest.trend_30d == pytest.approx(latest.score - first.score)
    assert latest.trend_7d == pytest.approx(latest.score - first.score)  # no snapshot since day 0
    assert ScoreSnapshot.objects.filter(customer=customer).count() == 2
    again = memory_refresh(customer_id=customer.pk, as_of=now + timedelta(minutes=5))
    assert ScoreSnapshot.objects.filter(customer=customer).count() == 2  # one per day
    assert again.score == pytest.approx(latest.score, abs=0.01)


def test_stale_customers_are_found_and_swept_up(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    behind, current = CustomerFactory.create(), CustomerFactory.create()
    record(current)
    memory_refresh(customer_id=current.pk)
    record(behind)  # its task was "lost": refresh_memory=False in the test helper
    assert stale_customer_ids(limit=100) == [behind.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_stale_memories() == 1
    assert stale_customer_ids(limit=100) == []
    assert _memory(behind).history_version == 1


def test_recording_queues_a_refresh_after_commit(
    customer: Customer, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record(customer, channel="complaint", valence=-2, refresh_memory=True, at=timezone.now())
    # The refresh; then, from the stored memory, the playbooks' note and their evaluation.
    assert len(callbacks) == 3
    assert _memory(customer).band == "at_risk"
    assert customer.tasks.get().playbook.kind == "at_risk"


def test_nightly_refresh_rereads_every_memory(customer: Customer) -> None:
    record(customer, at=timezone.now() - timedelta(days=1), valence=2, intensity=5)
    memory_refresh(customer_id=customer.pk, as_of=timezone.now() - timedelta(days=1))
    yesterday = _memory(customer).score
    assert refresh_all_memories() == 1
    assert _memory(customer).score < yesterday


def test_a_burst_of_writes_queues_one_task_on_the_real_broker(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    celery_app.conf.task_always_eager = False
    cache.delete(REFRESH_QUEUED)
    before = queued_messages()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            schedule_memory_refresh()
    after = queued_messages()
    purge_queue()
    assert after - before == 1


def test_a_drain_under_a_stream_waits_out_the_gather_time_and_then_takes_everything(
    customer: Customer, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """Run as a worker runs it (not eager): the drain after another that began a moment
    ago waits out the rest of the gather time, still holding the queued mark so the writes
    meanwhile queue nothing, and then takes every customer that is behind."""
    settings.MEMORY_GATHER_SECONDS = 0.5
    waits: list[float] = []
    monkeypatch.setattr("config.tasking.time.sleep", waits.append)
    others = CustomerFactory.create_batch(2)
    for someone in (customer, *others):
        record(someone, at=timezone.now() - timedelta(hours=1), valence=1)
    cache.set(DRAIN_STARTED, time.time())
    cache.set(REFRESH_QUEUED, 1)

    assert refresh_stale_memories.run() == 3
    [wait] = waits
    assert 0.3 < wait <= 0.5
    assert cache.get(REFRESH_QUEUED) is None  # cleared after the wait: the next write queues
    assert not memory_mismatches([customer.pk, *(o.pk for o in others)])

    # Nothing behind: no wait, whenever the last drain began.
    cache.set(DRAIN_STARTED, time.time())
    assert refresh_stale_memories.run() == 0
    assert waits == [wait]


def test_a_drain_after_a_quiet_spell_or_run_in_process_does_not_wait(
    customer: Customer, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.MEMORY_GATHER_SECONDS = 30
    waits: list[float] = []
    monkeypatch.setattr("config.tasking.time.sleep", waits.append)
    record(customer, at=timezone.now() - timedelta(hours=1), valence=1)
    cache.set(DRAIN_STARTED, time.time() - 60)
    assert refresh_stale_memories.run() == 1
    record(customer, at=timezone.now(), valence=-1)
    # In-process (no broker) the drain runs inside the request that queued it: never waits.
    assert refresh_stale_memories.apply().get() == 1
    assert waits == []


def test_backfilled_history_matches_what_was_known_each_day(customer: Customer) -> None:
    from memory.services import memory_backfill_history

    record(customer, days=0, channel="complaint", valence=-2)
    record(customer, days=20, valence=2, intensity=5)
    made = memory_backfill_history(customer_id=customer.pk, start=T0.date(), end=(T0 + timedelta(days=28)).date())
    assert made == 4
    scores = list(ScoreSnapshot.objects.filter(customer=customer).order_by("day").values_list("score", flat=True))
    # One severe complaint reads about 12.6 (docs/memory-score.md: one bad day is not ten).
    assert scores[0] < 15
    assert scores[-1] > scores[1]


MEMORY_FIELDS = ("score", "band", "value", "trend_7d", "trend_30d", "breakdown", "next_touch_gain", "state",
                 "history_version", "max_interaction_id", "last_interaction_at", "parameters_fingerprint")  # fmt: skip


def test_recompute_many_equals_a_forced_refresh_of_each() -> None:
    now = T0 + timedelta(days=200)
    customers = [CustomerFactory.create() for _ in range(5)]
    for n, customer in enumerate(customers):
        complaint = record(customer, channel="complaint", valence=-2, days=100 + n)
        record(customer, valence=2, days=101 + n, resolves=complaint)
        for day in range(n * 3):
            record(customer, valence=(day % 5) - 2, days=120 + day * 4)
        if n % 2:  # some have earlier snapshots to trend against, and an open journey now
            memory_refresh(customer_id=customer.pk, as_of=now - timedelta(days=10))
            memory_refresh(customer_id=customer.pk, as_of=now - timedelta(days=40))
            record(customer, valence=-1, at=now - timedelta(days=2))
    silent = CustomerFactory.create()  # no touchpoints at all
    ids = [c.pk for c in [*customers, silent]]

    def snapshot() -> dict[int, tuple[object, ...]]:
        rows = CustomerMemory.objects.filter(customer_id__in=ids)
        memories = {m.customer_id: tuple(getattr(m, f) for f in MEMORY_FIELDS) for m in rows}
        journeys = tuple(Journey.objects.order_by("pk").values_list("pk", "remembered_value", "salience"))
        return {**memories, 0: journeys}

    for customer_id in ids:
        memory_refresh(customer_id=customer_id, as_of=now, force_recompute=True)
    one_by_one = snapshot()
    Journey.objects.update(remembered_value=None, salience=None)
    assert memory_recompute_many(customer_ids=ids, as_of=now) == len(ids)
    assert snapshot() == one_by_one
    assert any(m[3] is not None for k, m in one_by_one.items() if k)  # trends were compared


def test_touch_histories_read_every_customers_touches_in_order_with_their_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What calibration, backtests and the what-if read: each customer's touches in the
    order they happened (ties by id), and each survey answer scaled to 0..1 on its own scale."""
    from memory import selectors
    from memory.selectors import touch_histories

    first, second, third = CustomerFactory.create(), CustomerFactory.create(), CustomerFactory.create()
    untouched = CustomerFactory.create()
    late = record(first, days=3, valence=-1)
    early = record(first, days=1)
    same_moment = record(first, days=1, channel="email")
    csat = record(first, days=2, channel="email", rating=4, rating_scale="csat")
    nps = record(second, days=1, channel="email", rating=10, rating_scale="nps")
    unrated = record(second, days=2, channel="email")
    only = record(third, days=5)
    monkeypatch.setattr(selectors, "HISTORY_CHUNK", 2)  # two customers per pass: chunks must join up

    histories = touch_histories([third.pk, second.pk, first.pk, untouched.pk])
    assert set(histories) == {first.pk, second.pk, third.pk}  # nothing recorded: no history
    assert [t.id for t in histories[first.pk].touches] == [early.pk, same_moment.pk, csat.pk, late.pk]
    assert histories[first.pk].touches[3].valence == -1
    assert [(a.at, a.rating) for a in histories[first.pk].answers] == [(csat.occurred_at.timestamp(), 0.75)]
    assert histories[first.pk].survey_ids == {csat.pk}
    assert [(a.at, a.rating) for a in histories[second.pk].answers] == [(nps.occurred_at.timestamp(), 1.0)]
    assert histories[second.pk].survey_ids == {nps.pk}
    assert [t.id for t in histories[second.pk].touches] == [nps.pk, unrated.pk]
    assert [t.id for t in histories[third.pk].touches] == [only.pk]

    assert touch_histories() == histories  # every customer, in one pass
    assert touch_histories([first.pk]) == {first.pk: histories[first.pk]}


def test_applying_a_version_is_queued_after_commit_and_puts_it_in_force(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """docs/memory-score.md section 13: applying runs in the background, once the request
    that asked for it has committed."""
    from memory.models import VersionStatus
    from memory.services import scoring_version_apply, scoring_version_draft
    from memory.tasks import schedule_scoring_version_apply
    from tests.factories import UserFactory

    record(CustomerFactory.create())
    administrator = UserFactory.create()
    draft = scoring_version_draft(actor=administrator, parameters={"loss_aversion": 3.0})
    scoring_version_apply(version=draft, actor=administrator, reason="fitted to our surveys")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        schedule_scoring_version_apply(draft)
    draft.refresh_from_db()
    assert draft.status == VersionStatus.APPLYING
    assert len(callbacks) == 1
    callbacks[0]()
    draft.refresh_from_db()
    assert draft.status == VersionStatus.ACTIVE
    assert memory_parameters().loss_aversion == 3.0


def test_without_a_broker_applying_a_version_runs_beside_the_request_not_in_it(
    settings: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """docs/operations.md (the embedded demo): applying a version recomputes every score; it
    runs on a background thread, never inside the administrator's request."""
    import threading

    from memory import tasks
    from memory.models import ScoringVersion

    settings.EMBEDDED_BACKGROUND_THREADS = True
    ran_on: list[str] = []
    done = threading.Event()

    def run(*, version_id: int, seconds: float | None = None) -> bool:
        ran_on.append(threading.current_thread().name)
        done.set()
        return False

    monkeypatch.setattr(tasks, "scoring_version_run", run)
    version = ScoringVersion(pk=12345)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.schedule_scoring_version_apply(version)
    assert done.wait(10)
    assert ran_on[0].startswith("rememberly-task")
    assert ran_on[0] != threading.current_thread().name


def test_the_drain_refreshes_every_stale_memory_in_batches_and_equals_a_recompute() -> None:
    appended, rewritten, newcomer, current = (CustomerFactory.create() for _ in range(4))
    for customer in (appended, rewritten, current):
        record(customer, days=10)
        memory_refresh(customer_id=customer.pk)
    record(appended, days=12, valence=2)  # in order: folded into the stored state
    record(rewritten, days=2, valence=-2)  # before what the memory knows: from the whole history
    record(newcomer, days=5, channel="complaint", valence=-2)  # no memory yet
    stale = [appended.pk, rewritten.pk, newcomer.pk]
    assert stale_customer_ids(limit=10) == stale

    assert memory_refresh_stale(batch=2) == (3, False)  # a full batch, then a short one
    assert stale_customer_ids(limit=10) == []
    assert memory_mismatches([*stale, current.pk]) == []
    recomputes = dict(CustomerMemory.objects.values_list("customer_id", "full_recomputes"))
    assert recomputes == {appended.pk: 1, rewritten.pk: 2, newcomer.pk: 1, current.pk: 1}


def test_the_drain_stops_when_its_time_is_up_and_says_more_is_waiting() -> None:
    for _ in range(3):
        record(CustomerFactory.create())
    assert memory_refresh_stale(batch=2, seconds=0) == (2, True)
    assert memory_refresh_stale(batch=2, seconds=0) == (1, False)


@pytest.mark.django_db(transaction=True)
def test_two_drains_take_different_customers() -> None:
    held, free = CustomerFactory.create(), CustomerFactory.create()
    record(held)
    record(free)
    # Another drain (another connection) is working on `held`: this one skips it.
    other = psycopg2.connect(**connection.get_connection_params())
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT id FROM customers_customer WHERE id = %s FOR NO KEY UPDATE", [held.pk])
            # A drain that waited for `held` instead of skipping it fails here, not hangs.
            with connection.cursor() as own:
                own.execute("SET lock_timeout = '2s'")
            assert memory_refresh_stale() == (1, True)  # come back for the held one
            assert stale_customer_ids(limit=10) == [held.pk]
    finally:
        other.rollback()
        other.close()
    assert memory_refresh_stale() == (1, False)
    assert memory_mismatches([held.pk, free.pk]) == []


@pytest.mark.django_db(transaction=True)
def test_a_drain_comes_back_for_a_customer_another_transaction_held(settings: Any) -> None:
    """Found by the concurrency fault test: a retry of a stored touchpoint holds its
    customer's lock while it looks, then commits nothing and queues nothing. A drain that
    skipped that customer must queue the next itself, or the memory stays behind until the
    sweeper. (Run as on a worker, against the real broker.)"""
    settings.MEMORY_GATHER_SECONDS = 0
    held = CustomerFactory.create()
    record(held)
    retry = psycopg2.connect(**connection.get_connection_params())
    celery_app.conf.task_always_eager = False
    purge_queue()
    try:
        with retry.cursor() as cursor:
            cursor.execute("SELECT id FROM customers_customer WHERE id = %s FOR UPDATE", [held.pk])
            assert refresh_stale_memories.run() == 0
            assert queued_messages() == 1  # the drain's own next run
        retry.rollback()  # the retry wrote nothing
        assert refresh_stale_memories.run() == 1  # what that queued message runs
    finally:
        retry.close()
        purge_queue()
    assert memory_mismatches([held.pk]) == []
