"""Import outcomes (renewals, churn, ...) from CSV: the touchpoints' import machinery
(interactions.imports: the whole file checked first, rows recorded in batches, a bad row
reported by row, field and reason, a re-run storing nothing twice) with the outcome API's
recording path."""

from __future__ import annotations

from typing import Any

from interactions.imports import Recorded, import_job_create, import_job_run
from interactions.models import ImportJob, ImportKind
from outcomes.payloads import record_outcome_payloads

OUTCOME_COLUMNS = frozenset({"kind", "occurred_at", "source", "external_id"})


def outcome_import_create(*, created_by: Any, filename: str, raw: bytes) -> ImportJob:
    """Check the whole file (ImportFormatError) and make the job; the caller queues
    outcomes.tasks.run_outcome_import for it."""
    return import_job_create(
        created_by=created_by, filename=filename, raw=raw, kind=ImportKind.OUTCOMES, required=OUTCOME_COLUMNS
    )


def outcome_import_run(*, job_id: int) -> None:
    """Run (or finish) an outcome import; the outcomes are recorded as the uploader's."""
    job = ImportJob.objects.filter(pk=job_id, kind=ImportKind.OUTCOMES).select_related("created_by").first()
    if job is None:
        return

    def record(payloads: list[dict[str, Any]]) -> list[Recorded]:
        return list(record_outcome_payloads(payloads, recorded_by=job.created_by))

    import_job_run(job_id=job_id, kind=ImportKind.OUTCOMES, required=OUTCOME_COLUMNS, record=record)
