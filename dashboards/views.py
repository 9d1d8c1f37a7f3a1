from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import MANAGEMENT, role_required
from config.charts import series_in_words
from config.spreadsheet import SafeWriter
from dashboards.forms import DashboardFilters
from dashboards.selectors import (
    Filters,
    at_risk,
    cached_aggregates,
    customers_in_scope,
    next_best_touches,
    recovery_queue,
)
from memory.services import memory_parameters

TREND_W, TREND_H, PAD = 560, 160, 28
EXPORTS = ("at_risk", "recovery_queue", "memory_makers", "next_best_touches", "heatmap", "bands")


def _filters(form: DashboardFilters) -> Filters:
    if not form.is_valid():
        return Filters()
    data = form.cleaned_data
    return Filters(
        segment=data["segment"],
        owner=data["owner"],
        channel=data["channel"] or "",
        stage=data["stage"],
        period_days=data["period"] or 90,
        remembered_worse=data["remembered_worse"],
        lifecycle=data["lifecycle"] or "all",
    )


def _trend_svg(points: list[tuple[date, float, int]]) -> dict[str, Any]:
    in_words = series_in_words([(day, avg) for day, avg, _ in points], "average memory score")
    if not points:
        return {"path": "", "dots": [], "in_words": in_words}
    first, last = points[0][0], points[-1][0]
    span = max((last - first).days, 1)
    # The axis spans the data (with a margin), so a move of a few points is visible.
    low = max(0.0, min(avg for _, avg, _ in points) - 5)
    high = min(100.0, max(avg for _, avg, _ in points) + 5)

    def y_of(score: float) -> float:
        return round(PAD / 2 + (TREND_H - PAD) * (high - score) / (high - low), 1)

    coords = [
        (round(PAD + (TREND_W - 2 * PAD) * (day - first).days / span, 1), y_of(avg), day, avg) for day, avg, _ in points
    ]
    path = " ".join(f"{'M' if n == 0 else 'L'}{x},{y}" for n, (x, y, _, _) in enumerate(coords))
    return {
        "path": path,
        "dots": coords[-1:] if len(coords) > 1 else coords,
        "first": first,
        "last": last,
        "axis": [(y_of(v), f"{v:.0f}") for v in (high, low)],
        "in_words": in_words,
    }


@role_required(*MANAGEMENT)
def dashboard(request: HttpRequest) -> HttpResponse:
    form = DashboardFilters(request.GET or None)
    filters = _filters(form)
    params = memory_parameters()
    export = request.GET.get("export", "")
    aggregates = cached_aggregates(filters, params)
    panels = {
        "bands": aggregates["bands"],
        "at_risk": list(at_risk(filters)),
        "recovery_queue": recovery_queue(filters),
        "heatmap": aggregates["heatmap"],
        "memory_makers": aggregates["memory_makers"],
        "next_best_touches": list(next_best_touches(filters)),
    }
    if export in EXPORTS:
        return _csv(export, panels[export])
    trend = aggregates["trend"]
    return render(
        request,
        "dashboards/dashboard.html",
        {
            "form": form if form.is_bound else DashboardFilters(),
            "filters": filters,
            "customers": customers_in_scope(filters),
            "trend": _trend_svg(trend),
            "trend_size": (TREND_W, TREND_H),
            "trend_points": len(trend),
            "query": request.GET.urlencode(),
            "loss_aversion": params.loss_aversion,
            **panels,
        },
    )


# A CSV export: its header and its rows.
Table = tuple[list[str], Iterable[list[Any]]]


def _at_risk_table(rows: Any) -> Table:
    header = ["customer_ref", "customer", "segment", "owner", "score", "band", "trend_30d"]
    body = (
        [
            m.customer.ref,
            m.customer.name,
            m.customer.segment or "",
            _name(m.customer.owner),
            f"{m.score:.1f}",
            m.band,
            _num(m.trend_30d),
        ]
        for m in rows
    )
    return header, body


def _recovery_queue_table(rows: Any) -> Table:
    header = ["occurred_at", "customer_ref", "customer", "owner", "channel", "valence", "summary"]
    body = (
        [
            i.occurred_at.isoformat(),
            i.customer.ref,
            i.customer.name,
            _name(i.customer.owner),
            i.channel,
            i.valence,
            i.summary,
        ]
        for i in rows
    )
    return header, body


def _memory_makers_table(rows: Any) -> Table:
    header = ["staff", "touchpoints", "average_felt_impact", "share_bad"]
    body = ([_name(m["staff"]), m["touchpoints"], _num(m["felt"], 3), f"{m['bad_share']:.3f}"] for m in rows)
    return header, body


def _next_best_touches_table(rows: Any) -> Table:
    header = ["customer_ref", "customer", "owner", "score", "expected_gain"]
    body = (
        [m.customer.ref, m.customer.name, _name(m.customer.owner), f"{m.score:.1f}", f"{m.next_touch_gain:.1f}"]
        for m in rows
    )
    return header, body


def _heatmap_table(rows: Any) -> Table:
    header = ["stage", *[label for _, label in rows["channels"]]]
    body = ([stage.name, *[_num(value, 3) for _, value, _ in cells]] for stage, cells in rows["grid"])
    return header, body


def _bands_table(rows: Any) -> Table:
    return ["band", "customers", "share"], ([b["band"], b["count"], f"{b['share']:.3f}"] for b in rows)


CSV_TABLES: dict[str, Callable[[Any], Table]] = {
    "at_risk": _at_risk_table,
    "recovery_queue": _recovery_queue_table,
    "memory_makers": _memory_makers_table,
    "next_best_touches": _next_best_touches_table,
    "heatmap": _heatmap_table,
}


def _csv(panel: str, rows: Any) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rememberly-{panel.replace("_", "-")}.csv"'
    writer = SafeWriter(response)
    header, body = CSV_TABLES.get(panel, _bands_table)(rows)
    writer.writerow(header)
    for row in body:
        writer.writerow(row)
    return response


def _name(user: Any) -> str:
    return (user.get_full_name() or user.username) if user else ""


def _num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"
