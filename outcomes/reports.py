"""Backtest reports as stored (JSON) and as shown: the pure report, made plain."""

import math
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

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
