"""python manage.py calibrate_memory: fit the memory model to customers' survey answers."""

from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from memory.calibration import FITTED, FOLDS, CustomerRatings, Report, calibrate, samples_of, too_little_data, verdict
from memory.engine import parameter_label
from memory.selectors import touch_histories
from memory.services import memory_parameters, scoring_version_draft


class Command(BaseCommand):
    help = (
        "Fit the memory model (peak-end weight, loss aversion, half-life, recovery, display mapping) to the "
        "survey answers customers gave, validated on customers and a period the fit never saw, and report how "
        "well it predicts them next to the model in force and the usual baselines."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--folds", type=int, default=FOLDS, help=f"Customer groups for the cross-validation ({FOLDS})."
        )
        parser.add_argument(
            "--propose",
            action="store_true",
            help="Record the fit as a draft scoring version, to preview and apply at /model/.",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 2 <= options["folds"] <= 20:
            raise CommandError("--folds must be between 2 and 20.")
        samples = samples_of(self._load())
        problem = too_little_data(samples)
        if problem:
            raise CommandError(f"{problem} Record survey touchpoints with rating and rating_scale (csat or nps) first.")
        bar = tqdm(desc="fitting", unit="fit", disable=options["no_progress"] or options["verbosity"] == 0)

        def progress(step: int, total: int) -> None:
            bar.total = total
            bar.update(1)

        in_force = memory_parameters()
        report = calibrate(samples, in_force, folds=options["folds"], progress=progress)
        bar.close()
        self._print(report)
        if options["propose"]:
            self._propose(report)
        else:
            self.stdout.write(
                "\nTo use the fit, run again with --propose: it makes a draft to preview and apply at /model/."
            )

    def _print(self, report: Report) -> None:
        cutoff = datetime.fromtimestamp(report.cutoff, UTC).date()
        recent = report.scores[0].n
        self.stdout.write(
            f"\n{report.n_answers} survey answers from {report.n_customers} customers. Validation: "
            f"{report.folds} customer groups x time; each fit saw only answers before {cutoff} from the other "
            f"groups, and the {recent} answers since were each predicted once, out of fold.\n"
        )
        self.stdout.write(f"{'parameter':<34}{'in force':>10}{'fitted':>10}   range over the {report.folds} fold fits")
        for parameter in report.parameters:
            label = parameter_label(parameter.name)
            self.stdout.write(
                f"{label:<34}{parameter.in_force:>10g}{parameter.fitted:>10g}   {parameter.low:g} .. {parameter.high:g}"
            )
        self.stdout.write(
            f"\n{'predictor':<30}{'rho in-sample':>14}{'rho out-of-fold':>17}{'95% interval':>18}{'n':>6}"
        )
        for score in report.scores:
            interval = f"{score.low:.3f} .. {score.high:.3f}"
            self.stdout.write(
                f"{score.name:<30}{score.in_sample:>14.3f}{score.out_of_fold:>17.3f}{interval:>18}{score.n:>6}"
            )
        self.stdout.write(
            "\nrho = Spearman rank correlation between the predictor (from touchpoints before each answer) and the "
            "rating given; in-sample over every answer, out-of-fold over the recent ones; the interval resamples "
            "customers (bootstrap).\n" + verdict(report.scores)
        )

    def _propose(self, report: Report) -> None:
        fitted = next(s for s in report.scores if s.name == "memory score (fitted)")
        summary = (
            f"fitted on {report.n_answers} survey answers of {report.n_customers} customers; out-of-fold Spearman "
            f"({report.folds} customer groups x the recent third of answers) {fitted.out_of_fold:.3f} "
            f"(95% interval {fitted.low:.3f} to {fitted.high:.3f}). {verdict(report.scores)}"
        )
        try:
            draft = scoring_version_draft(
                actor="manage.py calibrate_memory",
                parameters={name: getattr(report.fitted, name) for name in FITTED},
                note="Proposed by calibrate_memory from customers' survey answers.",
                origin="calibration",
                calibration={
                    "summary": summary,
                    "parameters": [
                        {
                            "name": p.name,
                            "label": parameter_label(p.name),
                            "in_force": p.in_force,
                            "fitted": p.fitted,
                            "low": p.low,
                            "high": p.high,
                        }
                        for p in report.parameters
                    ],
                    "scores": [
                        {
                            "name": s.name,
                            "in_sample": s.in_sample,
                            "out_of_fold": s.out_of_fold,
                            "n": s.n,
                            "low": s.low,
                            "high": s.high,
                        }
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

    def _load(self) -> list[CustomerRatings]:
        return [
            CustomerRatings(cid, h.touches, h.answers, frozenset(h.survey_ids))
            for cid, h in touch_histories().items()
            if h.answers
        ]
