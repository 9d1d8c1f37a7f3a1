"""python manage.py preview_version: what a scoring version would change, on the real data."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from memory.models import ScoringVersion
from memory.services import scoring_version_draft
from outcomes.models import RunStatus
from outcomes.reports import estimate_text
from outcomes.services import PREVIEW_SAMPLE, version_preview_create, version_preview_execute


def _assignment(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise CommandError(f"--set takes name=number, not {text!r}.") from None


class Command(BaseCommand):
    help = (
        "Preview a scoring version against the one in force: band shares, movers and the backtest of both. "
        "Give a version number, or --set name=value to make a draft first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("number", nargs="?", type=int, help="The version to preview.")
        parser.add_argument("--set", action="append", default=[], help="Make a draft with this parameter changed.")
        parser.add_argument(
            "--sample", type=int, default=PREVIEW_SAMPLE, help=f"Most customers scored ({PREVIEW_SAMPLE})."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["set"]:
            try:
                version = scoring_version_draft(
                    actor="manage.py preview_version",
                    parameters=dict(_assignment(text) for text in options["set"]),
                    note="Made by manage.py preview_version.",
                )
            except ValidationError as exc:
                raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
            self.stdout.write(f"Draft {version.number} made.")
        elif options["number"] is not None:
            found = ScoringVersion.objects.filter(number=options["number"]).first()
            if found is None:
                raise CommandError(f"No version {options['number']}; /model/ lists them.")
            version = found
        else:
            raise CommandError("Give a version number or --set name=value.")
        if options["sample"] < 1:
            raise CommandError("--sample must be at least 1.")
        preview = version_preview_create(version=version)
        version_preview_execute(preview_id=preview.pk, sample_limit=options["sample"])
        preview.refresh_from_db()
        if preview.status != RunStatus.DONE:
            raise CommandError(f"The preview failed: {preview.problem}")
        whatif = preview.whatif
        scored, population = whatif["scored"], whatif["population"]
        scope = f"a sample of {scored} of {population}" if whatif["sampled"] else str(scored)
        changed = ", ".join(whatif["changed_parameters"]) or "nothing"
        band = whatif["changed_band"]
        self.stdout.write(
            f"Version {version.number} against the numbers in force; changed: {changed}.\n"
            f"Customers scored: {scope}. What-if in {preview.seconds:.1f} s; "
            f"backtest of both in {preview.backtest_seconds:.1f} s.\n"
            f"Changing band: {band['value']:.3f} (95% interval {band['low']:.3f} to {band['high']:.3f}); "
            f"mean change {whatif['mean_change']:+.2f} points."
        )
        for band in ("at_risk", "neutral", "good"):
            before, after = whatif["bands_before"][band], whatif["bands_after"][band]
            self.stdout.write(
                f"  {band:<8} {before['value']:.3f} -> {after['value']:.3f} ({after['low']:.3f} to {after['high']:.3f})"
            )
        for name in ("current", "draft"):
            report = preview.backtests[name]
            memory = next(p for p in report["predictors"] if p["name"] == "memory score")
            self.stdout.write(
                f"  backtest {name}: memory score churn AUC {estimate_text(memory['churn_auc'], 3)}, "
                f"{report['churned']} churned"
            )
