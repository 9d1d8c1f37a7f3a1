import math
import random
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from memory.calibration import (
    Answer,
    CustomerRatings,
    bootstrap_interval,
    calibrate,
    recency_weighted_average,
    spearman,
)
from memory.engine import SECONDS_PER_DAY, MemoryParameters, Touch, recompute
from memory.models import ScoringVersion, VersionStatus
from memory.services import memory_parameters


def test_spearman_matches_known_values() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9487, abs=1e-4)
    assert math.isnan(spearman([1, 2], [1, 2]))


def _synthetic(truth: MemoryParameters, customers: int = 60) -> list[CustomerRatings]:
    """Customers whose ratings come from a known memory model plus noise."""
    rng = random.Random(3)
    result = []
    for cid in range(customers):
        touches: list[Touch] = []
        answers: list[Answer] = []
        day = 0.0
        for i in range(30):
            day += rng.uniform(1, 20)
            touches.append(
                Touch(
                    cid * 100 + i,
                    day * SECONDS_PER_DAY,
                    1 + i // 6,
                    "fulfilment",
                    "call",
                    rng.randint(-2, 2),
                    rng.randint(1, 5),
                )
            )
            if i % 10 == 9:
                at = (day + 1) * SECONDS_PER_DAY
                true_score = recompute(touches, truth).state.read(at, truth).score
                answers.append(Answer(at, min(1.0, max(0.0, true_score / 100 + rng.gauss(0, 0.05)))))
        result.append(CustomerRatings(cid, touches, answers))
    return result


def test_calibration_recovers_a_peak_end_world_and_beats_the_average() -> None:
    truth = MemoryParameters(peak_end_weight=1.0, loss_aversion=3.0, half_life_days=30)
    report = calibrate(_synthetic(truth), MemoryParameters())
    scores = {s.name: s for s in report.scores}
    assert report.fitted.peak_end_weight >= 0.75
    assert scores["memory score (fitted)"].held_out > scores["plain average of valence"].held_out + 0.05
    assert scores["memory score (fitted)"].held_out > 0.8
    # Every predictor comes with its customer-bootstrap interval around the held-out rho.
    for score in report.scores:
        assert score.low <= score.held_out <= score.high
    assert scores["memory score (fitted)"].low > scores["recency-weighted average"].high
    # The answers are centred on the true score: the fitted slope makes the score read as
    # the chance of a good (>= 0.7) answer, so it is steeper than a gentle default.
    assert report.fitted.display_slope >= 1.25


def test_bootstrap_interval_is_repeatable_and_wider_with_fewer_customers() -> None:
    rng = random.Random(1)
    groups = [[(x := rng.random(), x + rng.gauss(0, 0.3)) for _ in range(3)] for _ in range(80)]
    few, many = bootstrap_interval(groups[:10]), bootstrap_interval(groups)
    assert bootstrap_interval(groups) == many
    assert few[1] - few[0] > many[1] - many[0] > 0


def test_recency_weighted_average_weighs_recent_touches_more() -> None:
    old_bad = Touch(1, 0.0, 1, "fulfilment", "call", -2, 5)
    new_good = Touch(2, 120 * SECONDS_PER_DAY, 2, "fulfilment", "call", 2, 5)
    value = recency_weighted_average([old_bad, new_good], 120 * SECONDS_PER_DAY)
    assert value == pytest.approx((10 - 10 * 0.25) / 1.25)


@pytest.mark.django_db
def test_calibrate_memory_refuses_without_enough_ratings() -> None:
    with pytest.raises(CommandError, match="survey ratings"):
        call_command("calibrate_memory", "--no-progress", stdout=StringIO())


@pytest.mark.django_db
def test_calibrate_memory_reports_fit_and_baselines_on_demo_data() -> None:
    call_command(
        "seed_demo", "--customers", "40", "--seed", "3", "--today", "2026-06-30", "--no-progress", stdout=StringIO()
    )
    out = StringIO()
    call_command("calibrate_memory", "--no-progress", stdout=out)
    text = out.getvalue()
    for line in (
        "Fitted: alpha=",
        "memory score (fitted)",
        "plain average of valence",
        "recency-weighted average",
        "experience average (lived)",
        "last interaction only",
        "points sum",
        "95% interval",
        "display slope=",
    ):
        assert line in text
    assert "baseline" in text.split("rho = Spearman")[1]  # the verdict names the best baseline
    assert "--propose" in text and not ScoringVersion.objects.exists()

    proposed = StringIO()
    call_command("calibrate_memory", "--no-progress", "--propose", stdout=proposed)
    draft = ScoringVersion.objects.get(status=VersionStatus.DRAFT)
    assert f"Draft {draft.number} proposed" in proposed.getvalue()
    assert draft.origin == "calibration" and "held-out Spearman" in draft.calibration["summary"]
    fitted = text.split("Fitted: alpha=")[1].split()[0]
    assert draft.parameters["peak_end_weight"] == float(fitted)
    assert memory_parameters().peak_end_weight == 0.5  # proposed, not in force


@pytest.mark.django_db
def test_recompute_scores_rebuilds_all_or_some() -> None:
    call_command(
        "seed_demo", "--customers", "5", "--seed", "3", "--today", "2026-06-30", "--no-progress", stdout=StringIO()
    )
    out = StringIO()
    call_command("recompute_scores", "--no-progress", stdout=out)
    assert "Recomputed 5 customers" in out.getvalue()
    out = StringIO()
    call_command("recompute_scores", "CUST-00001", "--no-progress", stdout=out)
    assert "Recomputed 1 customers" in out.getvalue()
    with pytest.raises(CommandError, match="NOPE"):
        call_command("recompute_scores", "NOPE", "--no-progress", stdout=StringIO())
