import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboards.forms import PERIODS
from dashboards.models import DailyStat
from dashboards.selectors import (
    Filters,
    band_distribution,
    cached_aggregates,
    heatmap,
    memory_makers,
    next_best_touches,
    recovery_queue,
)
from dashboards.services import daily_stats_rebuild
from dashboards.tasks import warm_dashboard_cache
from interactions.services import interaction_change, interaction_delete
from memory.engine import MemoryParameters
from memory.services import memory_parameters, memory_refresh
from tests.factories import CustomerFactory, SegmentFactory, UserFactory, record

pytestmark = pytest.mark.django_db
P = MemoryParameters()


def _snapshot() -> list[tuple[Any, ...]]:
    return sorted(
        DailyStat.objects.filter(count__gt=0).values_list(
            "day", "stage_id", "channel", "segment_id", "owner_id", "staff_id", "count", "negative_count"
        )
    )


def test_daily_stats_follow_records_edits_and_deletes_and_match_a_rebuild() -> None:
    staff = UserFactory.create()
    customer = CustomerFactory.create(owner=staff)
    now = timezone.now()
    a = record(customer, at=now - timedelta(days=1), channel="complaint", valence=-2, staff=staff)
    b = record(customer, at=now - timedelta(days=1), channel="complaint", valence=-1, staff=staff)
    record(customer, at=now - timedelta(days=2), valence=2)
    interaction_change(interaction=a, valence=1)
    interaction_delete(interaction=b)
    live = _snapshot()
    daily_stats_rebuild()
    assert _snapshot() == live
    assert sum(row[6] for row in live) == 2


def test_heatmap_shows_where_bad_memories_form() -> None:
    customer = CustomerFactory.create()
    now = timezone.now()
    record(customer, at=now - timedelta(days=1), channel="complaint", valence=-2, intensity=4)
    record(customer, at=now - timedelta(days=2), channel="newsletter", valence=1)
    grid = dict((stage.key, cells) for stage, cells in heatmap(Filters(), P)["grid"])
    complaint = dict((label, value) for label, value, _ in grid["fulfilment"])["Complaint"]
    newsletter = dict((label, value) for label, value, _ in grid["anticipation"])["Newsletter"]
    assert complaint == pytest.approx(-2.25 * 0.8)
    assert newsletter == pytest.approx(0.1)


def test_memory_makers_rank_staff_by_felt_impact() -> None:
    good, poor = UserFactory.create(first_name="Good"), UserFactory.create(first_name="Poor")
    customer = CustomerFactory.create()
    now = timezone.now()
    for day in range(3):
        record(customer, at=now - timedelta(days=day + 1), valence=2, staff=good)
        record(customer, at=now - timedelta(days=day + 1, hours=2), valence=-1, staff=poor)
    makers = memory_makers(Filters(), P)
    assert [m["staff"] for m in makers] == [good, poor]
    assert makers[1]["bad_share"] == 1.0


def test_recovery_queue_is_oldest_first_and_drops_recovered_complaints() -> None:
    customer = CustomerFactory.create()
    now = timezone.now()
    old = record(customer, at=now - timedelta(days=9), channel="complaint", valence=-1)
    newer = record(customer, at=now - timedelta(days=3), channel="complaint", valence=-2)
    fixed = record(customer, at=now - timedelta(days=5), channel="complaint", valence=-2)
    record(customer, at=now - timedelta(days=4), valence=2, resolves=fixed)
    memory_refresh(customer_id=customer.pk)
    assert list(recovery_queue(Filters())) == [old, newer]


def test_filters_narrow_every_panel_by_segment() -> None:
    enterprise = SegmentFactory.create(name="Enterprise")
    big, small = CustomerFactory.create(segment=enterprise), CustomerFactory.create()
    now = timezone.now()
    for c in (big, small):
        record(c, at=now - timedelta(days=2), channel="complaint", valence=-2)
        memory_refresh(customer_id=c.pk)
    only = Filters(segment=enterprise)
    assert [i.customer for i in recovery_queue(only)] == [big]
    assert [m.customer for m in next_best_touches(only)] == [big]


def test_remembered_worse_than_lived_narrows_the_customer_panels(client: Client, manager: Any) -> None:
    now = timezone.now()
    ended_badly, plain = CustomerFactory.create(name="Ended Badly"), CustomerFactory.create(name="Plain Sailing")
    for day in range(8, 0, -1):
        for c in (ended_badly, plain):
            record(c, at=now - timedelta(days=day, hours=2), valence=1)
    record(ended_badly, at=now - timedelta(hours=2), channel="complaint", valence=-2)
    record(plain, at=now - timedelta(hours=2), channel="complaint", valence=-1, intensity=1)
    for c in (ended_badly, plain):
        memory_refresh(customer_id=c.pk)
    worse = Filters(remembered_worse=True)
    assert [i.customer for i in recovery_queue(worse)] == [ended_badly]
    assert {row["band"]: row["count"] for row in band_distribution(worse)}["at_risk"] == 1
    assert sum(row["count"] for row in band_distribution(worse)) == 1
    client.force_login(manager)
    body = client.get("/dashboard/?remembered_worse=on").content.decode()
    assert "Ended Badly" in body
    assert "Plain Sailing" not in body
    assert "at least 10 points worse than they lived through" in body
    assert '<option value="90" selected>' in body  # the period a link leaves out is the default


def test_next_best_touch_prefers_a_journey_going_badly() -> None:
    now = timezone.now()
    unhappy, happy = CustomerFactory.create(), CustomerFactory.create()
    record(unhappy, at=now - timedelta(days=2), channel="complaint", valence=-1)
    record(happy, at=now - timedelta(days=2), valence=2, intensity=4)
    for c in (unhappy, happy):
        memory_refresh(customer_id=c.pk)
    gains = {m.customer: m.next_touch_gain for m in next_best_touches(Filters())}
    assert gains[unhappy] > 10 * max(gains.get(happy, 0.0), 0.5)


def test_csv_export_matches_what_is_shown(client: Client, manager: Any) -> None:
    customer = CustomerFactory.create(name="Grumpy, Inc.")
    record(
        customer, at=timezone.now() - timedelta(days=1), channel="complaint", valence=-2, summary='Said "never again"'
    )
    memory_refresh(customer_id=customer.pk)
    client.force_login(manager)
    response = client.get("/dashboard/?export=recovery_queue")
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    assert '"Grumpy, Inc."' in text
    assert '"Said ""never again"""' in text
    assert "rememberly-at-risk.csv" in client.get("/dashboard/?export=at_risk")["Content-Disposition"]


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-1+2", "\tTAB", "\rCR"]


@pytest.mark.parametrize("name", FORMULAS)
def test_csv_exports_neutralise_spreadsheet_formulas(client: Client, manager: Any, name: str) -> None:
    """Security audit #1 (OWASP CSV injection): a customer named like a formula is exported
    as text; numbers such as a negative trend stay numbers."""
    customer = CustomerFactory.create(name=name, ref=name)
    record(customer, at=timezone.now() - timedelta(days=1), channel="complaint", valence=-2, summary=name)
    memory_refresh(customer_id=customer.pk)
    client.force_login(manager)
    for panel in ("at_risk", "recovery_queue", "next_best_touches"):
        rows = list(csv.reader(io.StringIO(client.get(f"/dashboard/?export={panel}").content.decode())))
        cells = [cell for row in rows[1:] for cell in row]
        assert "'" + name in cells, (panel, rows)
        assert name not in cells
    recovery = list(csv.reader(io.StringIO(client.get("/dashboard/?export=recovery_queue").content.decode())))
    assert recovery[1][5] == "-2"  # the valence: a number, written as one


def test_period_aggregates_come_from_the_cache_the_second_time(django_assert_num_queries: Any) -> None:
    customer = CustomerFactory.create()
    record(customer, at=timezone.now() - timedelta(days=1), channel="complaint", valence=-2)
    params = memory_parameters()  # one query: the version in force
    first = cached_aggregates(Filters(), params)
    with django_assert_num_queries(0):
        assert cached_aggregates(Filters(), params) == first


def test_warmed_dashboard_reads_no_daily_counts(client: Any, manager: Any) -> None:
    customer = CustomerFactory.create()
    record(customer, at=timezone.now() - timedelta(days=1), channel="complaint", valence=-2)
    assert warm_dashboard_cache() == len(PERIODS)
    client.force_login(manager)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/dashboard/?period=365").status_code == 200
    assert not [q for q in queries.captured_queries if "dashboards_dailystat" in q["sql"]]


def test_sections_can_be_reached_and_shared_with_the_filters_kept(client: Client, manager: Any) -> None:
    """The dashboard's section navigation: a link per panel that keeps the filters."""
    client.force_login(manager)
    body = client.get("/dashboard/?period=30&channel=complaint").content.decode()
    nav = body.split('aria-label="Dashboard sections"')[1].split("</nav>")[0]
    for section in ("bands", "trend", "recovery-queue", "at-risk", "next-best-touches", "heatmap", "memory-makers"):
        assert f'href="?period=30&amp;channel=complaint#{section}"' in nav
        assert f'<section class="card" id="{section}"' in body
