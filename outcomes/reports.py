"""Backtest reports as stored (JSON) and as shown: the pure report, made plain."""

import math
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from memory.whatif import WhatIf
from outcomes.backtest import Report


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def report_data(report: Report) -> dict[str, Any]:
    data = _plain(asdict(report))
    data["cutoff"] = datetime.fromtimestamp(report.cutoff, UTC).isoformat()
    data["enough_for_churn"] = report.enough_for_churn
    data["enough_for_surveys"] = report.enough_for_surveys
    data["verdict"] = report.verdict()
    return data


def whatif_data(result: WhatIf) -> dict[str, Any]:
    data = _plain(asdict(result))
    data["sampled"] = result.sampled
    return data


def estimate_text(estimate: dict[str, Any] | None, digits: int = 2) -> str:
    """'0.71 (0.65 to 0.77, n 240)', or a dash when there is nothing to say."""
    if not estimate or estimate.get("value") is None:
        n = (estimate or {}).get("n") or 0
        return f"- (n {n})" if n else "-"
    value, low, high, n = estimate["value"], estimate.get("low"), estimate.get("high"), estimate["n"]
    interval = f"{low:.{digits}f} to {high:.{digits}f}, " if low is not None and high is not None else ""
    return f"{value:.{digits}f} ({interval}n {n})"


def predictor_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Predictor, Spearman with surveys, churn AUC, Brier: as words, the memory score first."""
    return [
        (
            p["name"],
            estimate_text(p["spearman_survey"]),
            estimate_text(p["churn_auc"]),
            estimate_text(p["brier"], digits=3),
        )
        for p in report["predictors"]
    ]


CHART_W, CHART_H, CHART_PAD = 560, 180, 30


def decile_chart(report: dict[str, Any]) -> dict[str, Any]:
    """Churn rate per memory-score decile as bars (SVG coordinates), and in words."""
    deciles = report.get("deciles") or []
    if not deciles:
        return {"bars": [], "in_words": "Too few customers for deciles."}
    top = max(max(d["churn_rate"] for d in deciles), 0.05)
    width = (CHART_W - 2 * CHART_PAD) / len(deciles)
    bars = []
    for n, d in enumerate(deciles):
        height = (CHART_H - 2 * CHART_PAD) * d["churn_rate"] / top
        bars.append(
            {
                "x": round(CHART_PAD + n * width + 2, 1),
                "y": round(CHART_H - CHART_PAD - height, 1),
                "width": round(width - 4, 1),
                "height": round(height, 1),
                "label": f"{d['low_score']:.0f}-{d['high_score']:.0f}",
                "rate": f"{100 * d['churn_rate']:.0f}%",
                "customers": d["customers"],
            }
        )
    lowest, highest = deciles[0], deciles[-1]
    in_words = (
        f"Churn in the window was {100 * lowest['churn_rate']:.0f}% among the tenth of customers with the lowest "
        f"scores ({lowest['low_score']:.0f} to {lowest['high_score']:.0f}) and {100 * highest['churn_rate']:.0f}% "
        f"among the tenth with the highest ({highest['low_score']:.0f} to {highest['high_score']:.0f})."
    )
    return {"bars": bars, "in_words": in_words, "size": (CHART_W, CHART_H), "base_y": CHART_H - CHART_PAD}


def rolling_rows(reports: list[dict[str, Any]]) -> list[tuple[str, int, int, str, str, str]]:
    """Per cut-off: customers, churns, the memory score's AUC, the best baseline's, the
    memory score's Spearman with surveys: does it hold over time?"""
    rows = []
    for report in reports:
        by_name = {p["name"]: p for p in report["predictors"]}
        memory = by_name.pop("memory score", None)
        known = [(n, p["churn_auc"]) for n, p in by_name.items() if p["churn_auc"].get("value") is not None]
        best = max(known, key=lambda item: item[1]["value"], default=None)
        rows.append(
            (
                report["cutoff"][:10],
                report["customers"],
                report["churned"],
                estimate_text(memory["churn_auc"]) if memory else "-",
                f"{best[0]}: {estimate_text(best[1])}" if best else "-",
                estimate_text(memory["spearman_survey"]) if memory else "-",
            )
        )
    return rows
