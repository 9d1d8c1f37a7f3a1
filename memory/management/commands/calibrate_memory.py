"""python manage.py calibrate_memory: fit alpha, lambda, half-life to customers' ratings."""

from collections import defaultdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from interactions.models import RATING_RANGES, Interaction, RatingScale
from memory.calibration import Answer, CustomerRatings, calibrate
from memory.services import TOUCH_FIELDS, memory_parameters, touch_from_row


class Command(BaseCommand):
    help = (
        "Fit the memory model's alpha, lambda and half-life to the survey ratings customers gave, "
        "and report how well it predicts held-out ratings next to the usual baselines."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--held-out", type=float, default=0.3, help="Share of customers held out (0.3).")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0.05 <= options["held_out"] <= 0.9:
            raise CommandError("--held-out must be between 0.05 and 0.9.")
        customers = self._load()
        answers = sum(len(c.answers) for c in customers)
        if answers < 20:
            raise CommandError(
                f"Only {answers} survey ratings found; calibration needs at least 20. "
                "Record survey touchpoints with rating and rating_scale (csat or nps) first."
            )
        bar = tqdm(total=100, desc="grid", unit="fit", disable=options["no_progress"] or options["verbosity"] == 0)

        def progress(step: int, total: int) -> None:
            bar.total = total
            bar.update(1)

        report = calibrate(customers, memory_parameters(), held_out_share=options["held_out"], progress=progress)
        bar.close()

        fitted = report.fitted
        self.stdout.write(
            f"\n{report.n_answers} ratings from {report.n_customers} customers; "
            f"{int(options['held_out'] * 100)}% of customers held out.\n"
        )
        self.stdout.write(
            f"Fitted: alpha={fitted.peak_end_weight}  lambda={fitted.loss_aversion}  "
            f"half-life={fitted.half_life_days:g} days\n"
        )
        self.stdout.write(f"{'predictor':<28}{'rho train':>11}{'rho held-out':>14}{'n':>6}")
        for score in report.scores:
            self.stdout.write(f"{score.name:<28}{score.train:>11.3f}{score.held_out:>14.3f}{score.n_held_out:>6}")
        self.stdout.write(
            "\nrho = Spearman rank correlation between the predictor (from touchpoints before each survey) and "
            "the rating given.\nTo use the fit, set MEMORY_PEAK_END_WEIGHT, MEMORY_LOSS_AVERSION and "
            "MEMORY_HALF_LIFE_DAYS, then run recompute_scores."
        )

    def _load(self) -> list[CustomerRatings]:
        touches: dict[int, list[Any]] = defaultdict(list)
        rows = Interaction.objects.order_by("customer_id", "occurred_at", "id").values_list(
            "customer_id", "rating", "rating_scale", *TOUCH_FIELDS
        )
        answers: dict[int, list[Answer]] = defaultdict(list)
        surveys: dict[int, set[int]] = defaultdict(set)
        for customer_id, rating, scale, *touch_row in rows.iterator(chunk_size=5000):
            touch = touch_from_row(tuple(touch_row))
            touches[customer_id].append(touch)
            if rating is not None and scale:
                low, high = RATING_RANGES[RatingScale(scale)]
                answers[customer_id].append(Answer(at=touch.at, rating=(rating - low) / (high - low)))
                surveys[customer_id].add(touch.id)
        return [
            CustomerRatings(cid, touches[cid], answers[cid], frozenset(surveys[cid])) for cid in touches if answers[cid]
        ]
