"""Keep the dashboard's default views warm: their period totals are always in the cache."""

from celery import shared_task

from dashboards.forms import PERIODS
from dashboards.selectors import Filters, refresh_aggregates
from memory.services import memory_parameters


@shared_task(acks_late=True, ignore_result=True)
def warm_dashboard_cache() -> int:
    """Recompute the unfiltered view of every period before its cached copy expires, so a
    manager opening the dashboard never pays for summing a year of daily counts."""
    params = memory_parameters()
    for days, _ in PERIODS:
        refresh_aggregates(Filters(period_days=days), params)
    return len(PERIODS)
