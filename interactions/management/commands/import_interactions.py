"""python manage.py import_interactions FILE.csv: history from other systems, in batches."""

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from config.spreadsheet import SafeWriter
from interactions.imports import ImportFormatError, RowError, import_csv

SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = "Import touchpoints from a CSV file (the API's field names as columns). Safe to re-run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--errors", type=Path, help="Write every row error to this CSV (row, field, reason).")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        if not 1 <= options["batch_size"] <= 1000:
            raise CommandError("--batch-size must be between 1 and 1000.")
        with path.open("rb") as counting:
            total = max(0, sum(1 for _ in counting) - 1)
        error_file = options["errors"].open("w", newline="") if options["errors"] else None
        error_writer = SafeWriter(error_file) if error_file else None
        if error_writer:
            error_writer.writerow(["row", "field", "reason"])
        shown = 0

        def on_error(error: RowError) -> None:
            nonlocal shown
            if error_writer:
                error_writer.writerow([error.row, error.field, error.reason])
            if shown < SHOWN_ERRORS:
                self.stderr.write(f"row {error.row}: {error.field}: {error.reason}")
                shown += 1

        started = time.monotonic()
        show = not options["no_progress"] and options["verbosity"] > 0
        try:
            with (
                path.open(newline="", encoding="utf-8-sig") as stream,
                tqdm(total=total, unit="row", desc="import", disable=not show, file=sys.stderr) as bar,
            ):
                report = import_csv(stream, batch_size=options["batch_size"], on_batch=bar.update, on_error=on_error)
        except ImportFormatError as exc:
            raise CommandError(str(exc)) from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text ({exc.reason}); save it as UTF-8 CSV and retry.") from exc
        finally:
            if error_file:
                error_file.close()
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"{report.rows} rows in {elapsed:.1f} s ({report.rows / max(elapsed, 1e-9):.0f} rows/s): "
            f"{report.created} imported, {report.duplicates} already there, {report.failed} refused."
        )
        if report.failed and not error_writer:
            self.stdout.write("Run again with --errors errors.csv to get every refused row with its reason.")
