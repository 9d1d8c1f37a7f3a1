"""python manage.py backtest: does the memory score predict churn and survey answers?"""

import sys
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from outcomes.backtest import MIN_CUSTOMERS, MIN_EVENTS
from outcomes.models import BacktestRun
from outcomes.reports import estimate_text, predictor_rows
from outcomes.services import backtest_run_create, backtest_run_execute


class Command(BaseCommand):
    help = (
        "Score every customer as of a cut-off date from the touchpoints before it, and compare with what "
        "happened in the window after (churn, survey answers), beside the usual baselines."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cutoff", help="YYYY-MM-DD (default: the window before today, so it has passed).")
        parser.add_argument("--window", type=int, default=90, help="Days after the cut-off (90).")
        parser.add_argument("--rolling", action="store_true", help="Also every quarter back to a year of history.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        window = options["window"]
        if options["cutoff"]:
            try:
                day = date.fromisoformat(options["cutoff"])
            except ValueError:
                raise CommandError("--cutoff must be a date like 2026-06-30.") from None
        else:
            day = timezone.localdate() - timedelta(days=window)
        try:
            run = backtest_run_create(
                cutoff=timezone.make_aware(datetime.combine(day, time.min)),
                window_days=window,
                rolling=options["rolling"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
        show = not options["no_progress"] and options["verbosity"] > 0
        with tqdm(total=100, unit="%", desc="backtest", disable=not show, file=sys.stderr) as bar:
            backtest_run_execute(run_id=run.pk, on_progress=lambda percent: bar.update(percent - bar.n))
        run = BacktestRun.objects.get(pk=run.pk)
        for report in run.reports:
            self._print(report)
        self.stdout.write(f"{run.seconds:.1f} s. The run is also on the backtest page (/backtests/{run.pk}/).")

    def _print(self, report: dict[str, Any]) -> None:
        self.stdout.write(
            f"\nCut-off {report['cutoff'][:10]}, window {report['window_days']} days: {report['customers']} customers, "
            f"{report['churned']} churned in the window, {report['surveyed']} answered a survey "
            f"(a verdict needs {MIN_CUSTOMERS} customers and {MIN_EVENTS} events)."
        )
        header = ("predictor", "Spearman with surveys", "churn ROC AUC", "Brier (lower is better)")
        self.stdout.write("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        for row in predictor_rows(report):
            self.stdout.write("| " + " | ".join(row) + " |")
        self.stdout.write(
            f"At-risk band for churn: precision {estimate_text(report['at_risk_precision'])}, "
            f"recall {estimate_text(report['at_risk_recall'])}."
        )
        for sentence in report["verdict"]:
            self.stdout.write(sentence)
