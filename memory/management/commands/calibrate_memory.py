"""python manage.py calibrate_memory: fit alpha, lambda, half-life to customers' ratings."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from memory.calibration import CustomerRatings, calibrate
from memory.selectors import touch_histories
from memory.services import memory_parameters, scoring_version_draft


class Command(BaseCommand):
    help = (
        "Fit the memory model's alpha, lambda and half-life to the survey ratings customers gave, "
        "and report how well it predicts held-out ratings next to the usual baselines."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--held-out", type=float, default=0.3, help="Share of customers held out (0.3).")
        parser.add_argument(
            "--propose",
            action="store_true",
            help="Record the fit as a draft scoring version, to preview and apply at /model/.",
        )
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
            f"half-life={fitted.half_life_days:g} days  display slope={fitted.display_slope:g}\n"
        )
        self.stdout.write(f"{'predictor':<30}{'rho train':>10}{'rho held-out':>14}{'95% interval':>18}{'n':>6}")
        for score in report.scores:
            interval = f"{score.low:.3f} .. {score.high:.3f}"
            self.stdout.write(
                f"{score.name:<30}{score.train:>10.3f}{score.held_out:>14.3f}{interval:>18}{score.n_held_out:>6}"
            )
        self.stdout.write(
            "\nrho = Spearman rank correlation between the predictor (from touchpoints before each survey) and "
            "the rating given; the interval resamples held-out customers (bootstrap).\n" + self._verdict(report.scores)
        )
        if options["propose"]:
            self._propose(report, options["held_out"])
        else:
            self.stdout.write(
                "\nTo use the fit, run again with --propose: it makes a draft to preview and apply at /model/."
            )

    def _propose(self, report: Any, held_out: float) -> None:
        fitted = report.fitted
        by_name = {s.name: s for s in report.scores}
        memory = by_name["memory score (fitted)"]
        summary = (
            f"fitted on {report.n_answers} ratings of {report.n_customers} customers, "
            f"{int(held_out * 100)}% of customers held out; held-out Spearman {memory.held_out:.3f} "
            f"(95% interval {memory.low:.3f} to {memory.high:.3f}). {self._verdict(report.scores)}"
        )
        fields = ("peak_end_weight", "loss_aversion", "half_life_days", "display_slope")
        try:
            draft = scoring_version_draft(
                actor="manage.py calibrate_memory",
                parameters={name: getattr(fitted, name) for name in fields},
                note="Proposed by calibrate_memory from customers' survey ratings.",
                origin="calibration",
                calibration={
                    "summary": summary,
                    "scores": [
                        {"name": s.name, "train": s.train, "held_out": s.held_out, "low": s.low, "high": s.high}
                        for s in report.scores
                    ],
                },
            )
        except ValidationError as exc:
            raise CommandError(f"The fit is outside what a version may hold: {exc.message_dict}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"\nDraft {draft.number} proposed: preview it at /model/{draft.number}/ before applying it."
            )
        )

    @staticmethod
    def _verdict(scores: list[Any]) -> str:
        """Say plainly whether the memory score beats the strongest baseline here."""
        by_name = {s.name: s for s in scores}
        memory = by_name["memory score (fitted)"]
        baselines = [s for s in scores if not s.name.startswith("memory score")]
        best = max(baselines, key=lambda s: s.held_out)
        if memory.low > best.high:
            return f"The memory score predicts these ratings better than the best baseline ({best.name})."
        if memory.held_out > best.held_out:
            return (
                f"The memory score is ahead of the best baseline ({best.name}), but within the intervals: "
                "on this data it has not shown that it predicts better."
            )
        return f"The memory score does not beat the best baseline here ({best.name})."

    def _load(self) -> list[CustomerRatings]:
        return [
            CustomerRatings(cid, h.touches, h.answers, frozenset(h.survey_ids))
            for cid, h in touch_histories().items()
            if h.answers
        ]
