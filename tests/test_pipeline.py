"""The stages that follow a write (pipeline/stages.py, docs/architecture.md)."""

from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured

from customers.models import Customer
from dashboards.models import DailyStat
from interactions.models import Interaction
from interactions.services import interaction_change, interaction_delete
from interactions.signals import touchpoints_written
from pipeline import stages
from tests.factories import CustomerFactory, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory.create()


@pytest.fixture
def no_stages() -> Iterator[None]:
    """The pipeline app's stages disconnected, as in a settings file without the app."""
    touchpoints_written.disconnect(sender=Interaction, dispatch_uid="pipeline.touchpoints_written")
    try:
        yield
    finally:
        stages.install()


def test_the_stages_run_in_the_documented_order() -> None:
    assert [stage.__name__ for stage in stages.AFTER_TOUCHPOINTS_WRITTEN] == [
        "refresh_memories",
        "count_in_dashboards",
        "notify_recorded",
    ]
    assert [stage.__name__ for stage in stages.AFTER_BANDS_CHANGED] == ["notify_band_changes"]


@pytest.mark.usefixtures("no_stages")
def test_a_write_nobody_reacts_to_is_refused_and_nothing_is_stored(customer: Customer) -> None:
    with pytest.raises(ImproperlyConfigured, match="add 'pipeline' to INSTALLED_APPS"):
        record(customer)
    assert not Interaction.objects.exists()


def test_installing_twice_runs_each_stage_once(customer: Customer) -> None:
    stages.install()
    record(customer, channel="call", valence=1)
    assert sum(DailyStat.objects.values_list("count", flat=True)) == 1


def test_a_correction_counts_the_old_row_out_and_the_new_row_in(customer: Customer) -> None:
    touchpoint = record(customer, channel="call", valence=-2)
    interaction_change(interaction=touchpoint, valence=2, reason="misheard")
    rows = list(DailyStat.objects.values_list("count", "negative_count"))
    assert sum(count for count, _ in rows) == 1
    assert sum(negative for _, negative in rows) == 0
    interaction_delete(interaction=touchpoint, reason="wrong customer")
    assert sum(DailyStat.objects.values_list("count", flat=True)) == 0
