import math
import random
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from memory.calibration import (
    FITTED,
    MIN_ANSWERS,
    MIN_CUSTOMERS,
    Answer,
    CustomerRatings,
    bootstrap_interval,
    calibrate,
    recency_weighted_average,
    samples_of,
    spearman,
    time_grouped_folds,
    too_little_data,
)
from memory.engine import SECONDS_PER_DAY, MemoryParameters, Touch, recompute
from memory.models import ScoringVersion, VersionStatus
from memory.services import memory_parameters


def test_spearman_matches_known_values() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9487, abs=1e-4)
    assert math.isnan(spearman([1, 2], [1, 2]))


def _synthetic(truth: MemoryParameters, customers: int = 90, recoveries: bool = False) -> list[CustomerRatings]:
    """Customers whose ratings come from a known memory model plus noise. With
    `recoveries`, one touch in five is a complaint that a later touch recovers (well or
    badly, soon or late), so the recovery parameters shape the answers."""
    rng = random.Random(3)
    result = []
    for cid in range(customers):
        touches: list[Touch] = []
        answers: list[Answer] = []
        day = 0.0
        open_complaint: Touch | None = None
        for i in range(30):
            recovering = recoveries and open_complaint is not None and i % 5 == 1
            day += rng.uniform(0.5, 3) if recovering else rng.uniform(1, 20)
            tid, at, journey = cid * 100 + i, day * SECONDS_PER_DAY, 1 + i // 6
            if recoveries and open_complaint is None and i % 5 == 0:
                touch = Touch(tid, at, journey, "fulfilment", "complaint", -2, 5)
                open_complaint = touch
            elif recovering and open_complaint is not None:
                quality = rng.choice([1, 2, 2])
                touch = Touch(tid, at, journey, "fulfilment", "call", quality, 3, resolves_id=open_complaint.id)
                open_complaint = None
            else:
                touch = Touch(tid, at, journey, "fulfilment", "call", rng.randint(-2, 2), rng.randint(1, 5))
            touches.append(touch)
            if i % 10 == 9:
                at = (day + 1) * SECONDS_PER_DAY
                true_score = recompute(touches, truth).state.read(at, truth).score
                answers.append(Answer(at, min(1.0, max(0.0, true_score / 100 + rng.gauss(0, 0.05)))))
        result.append(CustomerRatings(cid, touches, answers))
    return result


def test_calibration_recovers_a_peak_end_world_and_beats_the_average() -> None:
    truth = MemoryParameters(peak_end_weight=1.0, loss_aversion=3.0, half_life_days=30)
    report = calibrate(samples_of(_synthetic(truth, customers=200)), MemoryParameters())
    scores = {s.name: s for s in report.scores}
    assert report.fitted.peak_end_weight >= 0.75
    fitted = scores["memory score (fitted)"]
    assert fitted.out_of_fold > scores["plain average of valence"].out_of_fold + 0.05
    assert fitted.out_of_fold > 0.8
    # Every predictor comes with its customer-bootstrap interval around the out-of-fold rho,
    # all of them over the same recent answers.
    for score in report.scores:
        assert score.low <= score.out_of_fold <= score.high
        assert score.n == fitted.n > 0
    assert fitted.low > scores["recency-weighted average"].high
    # The answers are centred on the true score: the fitted slope makes the score read as
    # the chance of a good (>= 0.7) answer, so it is steeper than a gentle default.
    assert report.fitted.display_slope >= 1.25
    # Each fitted parameter comes with the range its fold fits spread over.
    alpha = next(p for p in report.parameters if p.name == "peak_end_weight")
    assert alpha.in_force == 0.5
    assert alpha.fitted == report.fitted.peak_end_weight
    assert alpha.low >= 0.5
    assert alpha.low <= alpha.high


def test_calibration_fits_the_recovery_parameters_a_world_follows() -> None:
    truth = MemoryParameters(recovery_softening=1.0, paradox_bonus=0.0)
    in_force = MemoryParameters(recovery_softening=0.0, paradox_bonus=0.4)
    report = calibrate(samples_of(_synthetic(truth, customers=200, recoveries=True)), in_force)
    assert report.fitted.recovery_softening >= 0.75
    assert report.fitted.paradox_bonus <= 0.2
    softening = next(p for p in report.parameters if p.name == "recovery_softening")
    assert softening.low >= 0.5  # every fold fit found recovery matters
    scores = {s.name: s for s in report.scores}
    assert scores["memory score (fitted)"].out_of_fold > scores["memory score (in force)"].out_of_fold


def test_cross_validation_never_judges_a_fit_on_its_customers_or_its_period() -> None:
    samples = samples_of(_synthetic(MemoryParameters(), customers=40))
    cutoff, folds = time_grouped_folds(samples, folds=4)
    tested = [s for fold in folds for s in fold.test]
    assert sorted(id(s) for s in tested) == sorted(id(s) for s in samples if s.at >= cutoff)  # each once
    assert 0.25 < len(tested) / len(samples) < 0.4  # the recent third
    for fold in folds:
        assert fold.train
        assert fold.test
        assert max(s.at for s in fold.train) < cutoff <= min(s.at for s in fold.test)
        assert not {s.customer_id for s in fold.train} & {s.customer_id for s in fold.test}
    # Each sample's history holds only what came before its answer.
    assert all(t.at < s.at for s in samples for t in s.history)


def test_too_little_data_names_the_minimum() -> None:
    samples = samples_of(_synthetic(MemoryParameters(), customers=MIN_CUSTOMERS))
    assert len(samples) < MIN_ANSWERS
    assert f"at least {MIN_ANSWERS} answers from {MIN_CUSTOMERS} customers" in (too_little_data(samples) or "")
    assert too_little_data(samples_of(_synthetic(MemoryParameters(), customers=MIN_ANSWERS // 3 + 1))) is None


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
    with pytest.raises(CommandError, match="calibration needs at least 200 answers from 50 customers"):
        call_command("calibrate_memory", "--no-progress", stdout=StringIO())


@pytest.mark.django_db
def test_calibrate_memory_reports_fit_and_baselines_on_demo_data(client: Client, manager: User) -> None:
    call_command(
        "seed_demo", "--customers", "80", "--seed", "3", "--today", "2026-06-30", "--no-progress", stdout=StringIO()
    )
    out = StringIO()
    call_command("calibrate_memory", "--no-progress", stdout=out)
    text = out.getvalue()
    for line in (
        "5 customer groups x time",
        "range over the 5 fold fits",
        "Peak-end weight (α)",
        "Recovery softening",
        "Recovery half-life",
        "Paradox bonus (β)",
        "Display slope",
        "Display scale",
        "memory score (fitted)",
        "memory score (in force)",
        "plain average of valence",
        "recency-weighted average",
        "experience average (lived)",
        "last interaction only",
        "points sum",
        "95% interval",
    ):
        assert line in text
    verdict = text.split("rho = Spearman")[1]
    assert "baseline" in verdict
    assert "model in force" in verdict
    assert "--propose" in text
    assert not ScoringVersion.objects.exists()

    proposed = StringIO()
    call_command("calibrate_memory", "--no-progress", "--propose", stdout=proposed)
    draft = ScoringVersion.objects.get(status=VersionStatus.DRAFT)
    assert f"Draft {draft.number} proposed" in proposed.getvalue()
    assert draft.origin == "calibration"
    assert "out-of-fold Spearman" in draft.calibration["summary"]
    # The draft holds every fitted number, as printed, with the fold range behind each.
    fitted = {p["name"]: p for p in draft.calibration["parameters"]}
    assert set(fitted) == set(FITTED)
    for name in FITTED:
        assert draft.parameters[name] == fitted[name]["fitted"]
    alpha_row = next(line for line in text.splitlines() if line.startswith("Peak-end weight"))
    assert alpha_row.split()[-4:] == [
        f"{fitted['peak_end_weight']['fitted']:g}",
        f"{fitted['peak_end_weight']['low']:g}",
        "..",
        f"{fitted['peak_end_weight']['high']:g}",
    ]
    assert memory_parameters().peak_end_weight == 0.5  # proposed, not in force

    # The draft's page shows what the fit found, with the fold range, to managers too.
    client.force_login(manager)
    page = client.get(f"/model/{draft.number}/").content.decode()
    assert "Range over the fold fits" in page
    assert "Recovery softening" in page
    low, high = fitted["recovery_softening"]["low"], fitted["recovery_softening"]["high"]
    assert f"{low:g} to {high:g}" in page


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
