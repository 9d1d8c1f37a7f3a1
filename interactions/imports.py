"""Import touchpoints from CSV, through the same bulk path as the API.

Columns are the API's field names (docs/api.md). In a file every value is text, so
`resolves` names the complaint by its external_id (same source) and `resolves_id` by its
id.

One outcome per file: the whole file is read and parsed first (`read_rows`): a file that
is not UTF-8, not CSV, too large, or lacks a column is refused before anything is stored,
naming the line. Then every row is recorded in batches: a bad value is that row's error
(row number, field, reason) and the other rows are stored. Re-running a file stores
nothing twice (source + external_id), so after any interruption the same file is simply
imported again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from interactions.api import record_payloads
from interactions.models import ImportJob, ImportKind, ImportStatus

REQUIRED = frozenset({"channel", "valence", "occurred_at", "source", "external_id"})
CUSTOMER_COLUMNS = {"customer", "customer_ref"}
MAX_KEPT_ERRORS = 10_000
JOB_KEPT_ERRORS = 200


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
    """The file as a whole cannot be imported; nothing of it was stored."""


class Recorded(Protocol):
    """What a recorder says of each row: created, duplicate or error, with field errors."""

    @property
    def status(self) -> str: ...
    @property
    def errors(self) -> dict[str, list[str]]: ...


@dataclass(frozen=True)
class Row:
    number: int  # as a spreadsheet counts: the header is row 1
    payload: dict[str, Any]


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
        payload["resolves"] = int(raw) if raw.isascii() and raw.isdigit() else raw
    return payload


def decode(raw: bytes) -> str:
    """The file's text, or ImportFormatError naming the line with the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFormatError(
            f"Line {line} is not UTF-8 text (byte 0x{raw[exc.start]:02x}). Save the file as 'CSV UTF-8' and "
            "upload it again; nothing was imported."
        ) from None


def read_rows(text: str, *, required: frozenset[str] = REQUIRED) -> list[Row]:
    """Every non-blank row of the file, parsed, before anything is stored."""
    max_rows = settings.IMPORT_MAX_ROWS
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = {name.strip() for name in reader.fieldnames or [] if name}
        missing = required - header
        if missing or not header & CUSTOMER_COLUMNS:
            needed = sorted(missing) + ([] if header & CUSTOMER_COLUMNS else ["customer_ref (or customer)"])
            raise ImportFormatError(f"The header lacks the column(s): {', '.join(needed)}. See docs/api.md.")
        rows: list[Row] = []
        for record in reader:
            payload = _payload(record)
            if not payload:
                continue  # a blank line
            if len(rows) == max_rows:
                raise ImportFormatError(
                    f"The file has more than {max_rows:,} rows. Split it into files of at most {max_rows:,} rows; "
                    "nothing was imported."
                )
            rows.append(Row(reader.line_num, payload))
    except csv.Error as exc:
        raise ImportFormatError(f"Line {reader.line_num} is not valid CSV ({exc}); nothing was imported.") from None
    return rows


def _batches(rows: list[Row], size: int) -> Iterator[list[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def import_rows(
    rows: list[Row],
    *,
    batch_size: int = 1000,
    on_batch: Callable[[ImportReport, int], None] | None = None,
    on_error: Callable[[RowError], None] | None = None,
    record: Callable[[list[dict[str, Any]]], Sequence[Recorded]] | None = None,
) -> ImportReport:
    """Record every row; a bad row is reported (row number, field, reason) and skipped.
    Webhooks are not sent for imported history (it is not news)."""
    report = ImportReport()
    for batch in _batches(rows, batch_size):
        payloads = [row.payload for row in batch]
        results = record(payloads) if record else record_payloads(payloads, notify_webhooks=False)
        for row, result in zip(batch, results, strict=True):
            report.rows += 1
            if result.status == "created":
                report.created += 1
            elif result.status == "duplicate":
                report.duplicates += 1
            else:
                report.failed += 1
                for name, messages in result.errors.items():
                    error = RowError(row.number, name, " ".join(str(m) for m in messages))
                    if len(report.errors) < MAX_KEPT_ERRORS:
                        report.errors.append(error)
                    if on_error:
                        on_error(error)
        if on_batch:
            on_batch(report, len(batch))
    return report


def check_size(size: int) -> None:
    limit = settings.IMPORT_MAX_BYTES
    if size > limit:
        raise ImportFormatError(
            f"The file is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB. Split it into smaller files "
            "(or use `python manage.py import_interactions`); nothing was imported."
        )


def import_job_create(
    *,
    created_by: Any,
    filename: str,
    raw: bytes,
    kind: ImportKind = ImportKind.TOUCHPOINTS,
    required: frozenset[str] = REQUIRED,
) -> ImportJob:
    """Check the whole file now (ImportFormatError if it cannot be imported) and make the
    job; the caller queues the task of its kind for it (interactions.tasks.run_import_job
    for touchpoints), so that a large file never holds a web worker."""
    check_size(len(raw))
    text = decode(raw)
    rows = read_rows(text, required=required)
    return ImportJob.objects.create(
        created_by=created_by, filename=filename[:255], kind=kind, content=text, rows_total=len(rows)
    )


def import_job_run(
    *,
    job_id: int,
    kind: ImportKind = ImportKind.TOUCHPOINTS,
    required: frozenset[str] = REQUIRED,
    record: Callable[[list[dict[str, Any]]], Sequence[Recorded]] | None = None,
) -> None:
    """Run (or finish) an import job of `kind`, recording its rows with `record` (the
    touchpoints' bulk path by default); safe to run again: stored rows are duplicates then.
    A job of another kind is left alone: its own task runs it."""
    job = ImportJob.objects.filter(pk=job_id, kind=kind).first()
    if job is None or job.finished:
        return
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING)

    def progress(report: ImportReport, _: int) -> None:
        ImportJob.objects.filter(pk=job.pk).update(
            rows_done=report.rows, created=report.created, duplicates=report.duplicates, failed=report.failed
        )

    try:
        report = import_rows(read_rows(job.content, required=required), on_batch=progress, record=record)
    except (OperationalError, InterfaceError):
        # The database went away: the task retries, and the job (still running, not
        # finished) resumes; the rows stored so far come back as duplicates.
        raise
    except Exception as exc:  # recorded on the job for the person waiting on the page
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, problem=f"The import stopped: {exc}", finished_at=timezone.now()
        )
        raise
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.DONE,
        rows_done=report.rows,
        created=report.created,
        duplicates=report.duplicates,
        failed=report.failed,
        errors=[[e.row, e.field, e.reason] for e in report.errors[:JOB_KEPT_ERRORS]],
        content="",
        finished_at=timezone.now(),
    )
