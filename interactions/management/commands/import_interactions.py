"""python manage.py import_interactions FILE.csv: history from other systems, in batches."""

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from config.spreadsheet import SafeWriter
from interactions.imports import (
    REQUIRED,
    ImportFormatError,
    Recorded,
    RowError,
    decode,
    import_rows,
    read_rows,
)

SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = (
        "Import touchpoints from a CSV file (the API's field names as columns). The whole file is checked "
        "first (nothing is stored from a file that cannot be read); safe to re-run."
    )
    # What another kind of record's import changes (outcomes' import_outcomes):
    required_columns = REQUIRED

    def record(self, payloads: list[dict[str, Any]]) -> Sequence[Recorded] | None:
        """Store one batch; None: as touchpoints (the default recorder)."""
        return None

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
        try:
            # The whole file is read and checked before anything is stored: one outcome per file.
            rows = read_rows(decode(path.read_bytes()), required=self.required_columns)
        except ImportFormatError as exc:
            raise CommandError(f"{path}: {exc}") from None
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
            with tqdm(total=len(rows), unit="row", desc="import", disable=not show, file=sys.stderr) as bar:
                report = import_rows(
                    rows,
                    batch_size=options["batch_size"],
                    on_batch=lambda _, n: bar.update(n),
                    on_error=on_error,
                    record=self._recorder(),
                )
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

    def _recorder(self) -> Callable[[list[dict[str, Any]]], Sequence[Recorded]] | None:
        if type(self).record is Command.record:
            return None
        return lambda payloads: self.record(payloads) or []
