"""seed_scale: a large data set by COPY that the product's own rules would have produced."""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Max, Min

from customers.models import Customer
from dashboards.models import DailyStat
from dashboards.selectors import Filters, recovery_queue
from interactions.models import Interaction
from interactions.selectors import waiting_for_recovery
from journeys.models import Journey
from tests.convergence import memory_mismatches

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_seed_scale_writes_exactly_the_plan_with_consistent_journeys_and_scores() -> None:
    call_command("seed_scale", customers=60, interactions=3000, processes=2, verbosity=0)

    assert Customer.objects.count() == 60
    assert Interaction.objects.count() == 3000
    # Every customer's version says how many touchpoints they have (what a memory compares).
    assert not Customer.objects.annotate(n=Count("interactions")).exclude(history_version=F("n")).exists()
    # Journeys agree with their touchpoints, and at most one automatic journey is open.
    for journey in Journey.objects.annotate(
        n=Count("interactions"), first=Min("interactions__occurred_at"), last=Max("interactions__occurred_at")
    ):
        assert (journey.n, journey.first, journey.last) == (
            journey.interaction_count,
            journey.started_at,
            journey.last_interaction_at,
        )
    recoveries = Interaction.objects.filter(resolves__isnull=False).select_related("resolves")
    assert recoveries.exists()
    for reply in recoveries:
        assert reply.resolves is not None
        assert reply.resolves.customer_id == reply.customer_id
        assert reply.resolves.occurred_at <= reply.occurred_at
    assert sum(DailyStat.objects.values_list("count", flat=True)) == 3000
    assert memory_mismatches(list(Customer.objects.values_list("pk", flat=True))) == []

    with pytest.raises(CommandError, match="already has scale customers"):
        call_command("seed_scale", customers=10, interactions=100, verbosity=0)


def test_recovery_queue_reads_the_same_rule_as_the_customer_page() -> None:
    call_command("seed_scale", customers=80, interactions=4000, days=120, processes=1, verbosity=0)
    filters = Filters(period_days=120)
    everything = list(waiting_for_recovery().filter(occurred_at__gte=filters.since_start).order_by("occurred_at", "id"))
    assert len(everything) > 20
    assert any(i.channel != "complaint" for i in everything)
    assert recovery_queue(filters, limit=10_000) == everything
    assert recovery_queue(filters, limit=7) == everything[:7]
