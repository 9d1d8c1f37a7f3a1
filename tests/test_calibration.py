import math
import random
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from memory.calibration import Answer, CustomerRatings, calibrate, spearman
from memory.engine import SECONDS_PER_DAY, MemoryParameters, Touch, recompute


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
        "last interaction only",
        "points sum",
    ):
        assert line in text


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
