import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from customers.models import Customer
from interactions.services import interaction_delete, interaction_record
from journeys.models import CloseReason, Journey
from tests.factories import T0, CustomerFactory, record

pytestmark = pytest.mark.django_db


def test_touchpoints_close_in_time_share_the_open_journey(customer: Customer) -> None:
    first = record(customer, days=0)
    second = record(customer, days=10)
    third = record(customer, days=40)
    assert first.journey_id == second.journey_id == third.journey_id
    journey = first.journey
    journey.refresh_from_db()
    assert journey.interaction_count == 3
    assert journey.is_open
    assert journey.last_interaction_at == T0 + timedelta(days=40)


def test_quiet_gap_opens_a_new_journey_and_closes_the_old(customer: Customer) -> None:
    first = record(customer, days=0)
    later = record(customer, days=46)  # quiet gap is 45 days
    assert later.journey_id != first.journey_id
    old = Journey.objects.get(pk=first.journey_id)
    assert old.close_reason == CloseReason.QUIET_GAP
    assert old.closed_at == T0


def test_evaluation_closes_the_journey_and_the_next_touch_opens_another(customer: Customer) -> None:
    record(customer, days=0)
    review = record(customer, channel="account_review", days=3)
    after = record(customer, days=4)
    closed = Journey.objects.get(pk=review.journey_id)
    assert closed.close_reason == CloseReason.EVALUATION
    assert closed.closed_at == review.occurred_at
    assert after.journey_id != review.journey_id


def test_automatic_journey_never_spans_more_than_the_longest_episode(customer: Customer) -> None:
    # Monthly touches, never quiet for long: episodes are days 0-90, 120-210 and 240-270.
    journeys = [record(customer, days=day).journey_id for day in range(0, 271, 30)]
    assert [journeys.index(j) for j in journeys] == [0, 0, 0, 0, 4, 4, 4, 4, 8, 8]
    assert Journey.objects.filter(close_reason=CloseReason.MAX_SPAN).count() == 2


def test_journey_ref_groups_touchpoints_by_the_other_systems_id(customer: Customer) -> None:
    a = record(customer, journey_ref="ORDER-1", days=0)
    auto = record(customer, days=1)
    b = record(customer, journey_ref="ORDER-1", days=200)
    assert a.journey_id == b.journey_id != auto.journey_id
    assert Journey.objects.get(pk=a.journey_id).ref == "ORDER-1"


def test_same_journey_ref_for_different_customers_is_two_journeys() -> None:
    a = record(CustomerFactory.create(), journey_ref="T-9")
    b = record(CustomerFactory.create(), journey_ref="T-9")
    assert a.journey_id != b.journey_id


def test_late_arrival_inside_an_episode_joins_it(customer: Customer) -> None:
    first = record(customer, days=0)
    record(customer, days=20)
    late = record(customer, days=5)
    assert late.journey_id == first.journey_id


def test_late_arrival_just_before_a_journey_joins_it(customer: Customer) -> None:
    current = record(customer, days=100)
    late = record(customer, days=80)
    assert late.journey_id == current.journey_id
    assert Journey.objects.get(pk=current.journey_id).started_at == late.occurred_at


def test_late_arrival_long_before_all_journeys_opens_a_superseded_journey(customer: Customer) -> None:
    current = record(customer, days=100)
    old = record(customer, days=0)
    assert old.journey_id != current.journey_id
    assert Journey.objects.get(pk=old.journey_id).close_reason == CloseReason.SUPERSEDED
    assert Journey.objects.get(pk=current.journey_id).is_open


def test_database_allows_one_open_automatic_journey_per_customer(customer: Customer) -> None:
    record(customer)
    with pytest.raises(IntegrityError), transaction.atomic():
        Journey.objects.create(customer=customer, started_at=T0, last_interaction_at=T0)


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_touchpoints_open_one_journey() -> None:
    customer = CustomerFactory.create()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def push(n: int) -> None:
        try:
            barrier.wait()
            interaction_record(
                customer=customer,
                channel="call",
                valence=1,
                occurred_at=T0 + timedelta(minutes=n),
                source="race",
                external_id=f"r-{n}",
                refresh_memory=False,
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=push, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Journey.objects.filter(customer=customer).count() == 1
    assert Journey.objects.get(customer=customer).interaction_count == 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_requests_store_one_interaction() -> None:
    customer = CustomerFactory.create()
    barrier = threading.Barrier(6)
    results: list[bool] = []

    def push() -> None:
        try:
            barrier.wait()
            result = interaction_record(
                customer=customer,
                channel="complaint",
                valence=-2,
                occurred_at=T0,
                source="helpdesk",
                external_id="same",
                refresh_memory=False,
            )
            results.append(result.created)
        finally:
            connection.close()

    threads = [threading.Thread(target=push) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]
    assert customer.interactions.count() == 1


def test_deleting_touchpoints_counts_them_out_and_an_emptied_journey_goes(customer: Customer) -> None:
    first = record(customer, days=0)
    second = record(customer, days=1)
    other_customer_journey = record(CustomerFactory.create(), days=0).journey
    journey = first.journey

    interaction_delete(interaction=second)
    journey.refresh_from_db()
    assert journey.interaction_count == 1

    interaction_delete(interaction=first)
    assert not Journey.objects.filter(pk=journey.pk).exists()
    other_customer_journey.refresh_from_db()
    assert other_customer_journey.interaction_count == 1
