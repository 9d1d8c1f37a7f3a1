"""python manage.py import_outcomes FILE.csv: renewals, churn and the like from a CRM export."""

from typing import Any

from interactions.imports import Recorded
from interactions.management.commands.import_interactions import Command as ImportCommand
from outcomes.imports import OUTCOME_COLUMNS
from outcomes.payloads import record_outcome_payloads


class Command(ImportCommand):
    help = (
        "Import outcomes (renewed, expanded, downgraded, churned) from a CSV file with the API's field names as "
        "columns: customer_ref (or customer), kind, occurred_at, source, external_id, and optionally note. "
        "The whole file is checked first; safe to re-run."
    )
    required_columns = OUTCOME_COLUMNS

    def record(self, payloads: list[dict[str, Any]]) -> list[Recorded]:
        return list(record_outcome_payloads(payloads, recorded_by=None))
