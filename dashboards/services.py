"""Keep the dashboards' daily counts in step with the touchpoints (same transaction)."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, FloatField, Q, Sum
from django.db.models.functions import Cast, Coalesce, TruncDate

from dashboards.models import DailyStat
from interactions.models import Interaction

Key = tuple[date, int, str, int, int, int]


def _raw(valence: int, intensity: int) -> float:
    return (valence / 2.0) * (intensity / 5.0)


def daily_stats_apply(*, interactions: Iterable[Interaction], sign: int = 1) -> None:
    """Count these touchpoints in (sign=1) or out (sign=-1), one upsert for all of them.
    The interactions need their customer loaded (segment and owner)."""
    sums: dict[Key, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0.0])
    for i in interactions:
        customer = i.customer
        key = (
            i.occurred_at.date(),
            i.stage_id,
            i.channel,
            customer.segment_id or 0,
            customer.owner_id or 0,
            i.staff_id or 0,
        )
        raw = _raw(i.valence, i.intensity)
        row = sums[key]
        row[0] += sign
        row[1] += sign if raw < 0 else 0
        row[2] += sign * raw if raw > 0 else 0.0
        row[3] += sign * raw if raw < 0 else 0.0
    if not sums:
        return
    table = DailyStat._meta.db_table
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(sums))
    params: list[Any] = []
    for key, (count, negative_count, positive_sum, negative_sum) in sums.items():
        params += [*key, count, negative_count, positive_sum, negative_sum]
    # Counters are added to, not overwritten: concurrent writers each add their share.
    sql = (
        f"INSERT INTO {table} (day, stage_id, channel, segment_id, owner_id, staff_id, count, negative_count, "  # noqa: S608 - table name from the model
        f"positive_sum, negative_sum) VALUES {values} "
        "ON CONFLICT (day, stage_id, channel, segment_id, owner_id, staff_id) DO UPDATE SET "
        f"count = {table}.count + EXCLUDED.count, "
        f"negative_count = {table}.negative_count + EXCLUDED.negative_count, "
        f"positive_sum = {table}.positive_sum + EXCLUDED.positive_sum, "
        f"negative_sum = {table}.negative_sum + EXCLUDED.negative_sum"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def daily_stats_rebuild() -> int:
    """Recount everything from the interactions (after an import done outside the services).

    One INSERT ... SELECT ... GROUP BY inside the database: at 5 million touchpoints the
    groups number in the millions, and fetching them into Python to insert them back cost
    minutes. Returns how many touchpoints were counted.
    """
    raw = Cast(F("valence") * F("intensity"), FloatField()) / 10.0  # same as _raw()
    groups = (
        Interaction.objects.annotate(
            day=TruncDate("occurred_at"),
            segment=Coalesce("customer__segment_id", 0),
            owner=Coalesce("customer__owner_id", 0),
            staff_or_0=Coalesce("staff_id", 0),
        )
        .values("day", "stage_id", "channel", "segment", "owner", "staff_or_0")
        .annotate(
            n=Count("id"),
            negative_n=Count("id", filter=Q(valence__lt=0)),
            positive=Coalesce(Sum(raw, filter=Q(valence__gt=0)), 0.0),
            negative=Coalesce(Sum(raw, filter=Q(valence__lt=0)), 0.0),
        )
        .order_by("day")  # rows of one day together on disk
    )
    select, params = groups.query.sql_with_params()  # columns in the order of values(), then annotate()
    table = DailyStat._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        DailyStat.objects.all().delete()
        cursor.execute(
            f"INSERT INTO {table} (day, stage_id, channel, segment_id, owner_id, staff_id, count, negative_count, "
            f"positive_sum, negative_sum) {select}",
            params,
        )
    return DailyStat.objects.aggregate(total=Coalesce(Sum("count"), 0))["total"]
