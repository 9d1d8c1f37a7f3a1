"""Import touchpoints from CSV: streamed in batches through the same bulk path as the API.

Columns are the API's field names (docs/api.md). In a file every value is text, so
`resolves` names the complaint by its external_id (same source) and `resolves_id` by its
id. Memory stays flat however long the file: one batch of rows is held at a time.
"""

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TextIO

from interactions.api import record_payloads

REQUIRED = {"channel", "valence", "occurred_at", "source", "external_id"}
CUSTOMER_COLUMNS = {"customer", "customer_ref"}
MAX_KEPT_ERRORS = 10_000


@dataclass
class RowError:
    row: int
    field: str
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first MAX_KEPT_ERRORS


class ImportFormatError(ValueError):
    """The file as a whole cannot be read (a missing column, not a CSV)."""


def _payload(row: dict[str | Any, str | Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for name, value in row.items():
        if name is None or value is None:
            continue  # a row longer than the header; the extra cells are ignored
        value = value.strip()
        if value:
            payload[name.strip()] = value
    if "resolves_id" in payload:
        raw = payload.pop("resolves_id")
        payload["resolves"] = int(raw) if raw.isdigit() else raw
    return payload


def _batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def import_csv(
    stream: TextIO,
    *,
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
    on_error: Callable[[RowError], None] | None = None,
) -> ImportReport:
    """Import every row; a bad row is reported (row number, field, reason) and skipped.
    Re-running the same file imports nothing twice (source + external_id)."""
    reader = csv.DictReader(stream)
    header = {name.strip() for name in reader.fieldnames or [] if name}
    missing = REQUIRED - header
    if missing or not header & CUSTOMER_COLUMNS:
        needed = sorted(missing) + ([] if header & CUSTOMER_COLUMNS else ["customer_ref (or customer)"])
        raise ImportFormatError(f"The header lacks the column(s): {', '.join(needed)}. See docs/api.md.")
    report = ImportReport()
    first_row = 2  # row 1 is the header, as a spreadsheet counts
    for batch in _batches(reader, batch_size):
        results = record_payloads([_payload(row) for row in batch], notify_webhooks=False)
        for offset, result in enumerate(results):
            report.rows += 1
            if result.status == "created":
                report.created += 1
            elif result.status == "duplicate":
                report.duplicates += 1
            else:
                report.failed += 1
                for name, messages in result.errors.items():
                    error = RowError(first_row + offset, name, " ".join(str(m) for m in messages))
                    if len(report.errors) < MAX_KEPT_ERRORS:
                        report.errors.append(error)
                    if on_error:
                        on_error(error)
        first_row += len(batch)
        if on_batch:
            on_batch(len(batch))
    return report
