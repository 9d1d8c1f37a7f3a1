"""python manage.py issue_api_key NAME --scope push|read|full: prints the key once."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.models import Action
from audit.services import audit_record
from config.rest.scopes import Scope
from integrations.models import APIKey


class Command(BaseCommand):
    help = "Issue an API key for another system. The key is shown once; only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who uses the key, e.g. 'helpdesk' or 'crm-sync'.")
        parser.add_argument("--scope", choices=Scope.values, default=Scope.PUSH, help="push (default), read or full.")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name:
            raise CommandError("Give the key a name that says who uses it.")
        api_key, key = APIKey.objects.create_key(name=name, scope=options["scope"])
        audit_record(
            actor="manage.py issue_api_key", action=Action.CREATE, obj=api_key, changes={"scope": options["scope"]}
        )
        self.stdout.write(key)
        self.stderr.write(
            f"Issued {options['scope']} key {api_key.prefix}... for {name!r}. It is shown only now: store it in the "
            "other system's secrets. Revoke it in the admin under Integrations > API keys."
        )
