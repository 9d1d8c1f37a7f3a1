from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from dashboards.services import daily_stats_rebuild


class Command(BaseCommand):
    help = "Recount the dashboards' daily touchpoint statistics from every interaction."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            count = daily_stats_rebuild()
        self.stdout.write(self.style.SUCCESS(f"Recounted {count} touchpoints."))
