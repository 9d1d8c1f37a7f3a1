"""Loaded (`-p tests.mutation_isolation`) only by mutation runs (pyproject [tool.mutmut]).

mutmut runs the tests of each mutant in a forked child, several at once. Children that
shared one test database and one Redis database would see each other's rows and queue
messages, and a mutant could be "killed" by a neighbour rather than by a test. So each
child claims a free slot (a file lock held until it exits) and gets its own:

- PostgreSQL database, cloned from a template that holds the migrated schema and its
  seeded rows. `CREATE DATABASE ... TEMPLATE` takes well under a second, where migrating
  from scratch for every mutant would take many;
- Redis database for the cache and the broker.

The template is built once per mutation run (`scripts/mutation` drops the old one first,
with drop_mutation_databases, so a changed migration is never tested against a stale
schema).
"""

import fcntl
import os
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import psycopg2
import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import override_settings

TEMPLATE = "test_rememberly_mutation_template"
SLOTS = 4
FIRST_REDIS_DB = 10  # 10..13; the normal suite uses 15, a demo 0
_TEMPLATE_LOCK_KEY = 7_405_311  # any constant: serialises building the template

_held: list[IO[str]] = []


def _claim_slot() -> int:
    for slot in range(SLOTS):
        path = Path(tempfile.gettempdir()) / f"rememberly-mutation-slot-{slot}.lock"
        handle = path.open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _held.append(handle)
        return slot
    raise RuntimeError(
        f"More than {SLOTS} mutation test processes at once: run mutmut with --max-children {SLOTS - 1} or fewer."
    )


_slot_by_process: dict[int, int] = {}


def _slot() -> int:
    """This process's slot. A forked child inherits its parent's claim, so claims are
    kept per process id and a child claims its own."""
    pid = os.getpid()
    if pid not in _slot_by_process:
        _slot_by_process[pid] = _claim_slot()
    return _slot_by_process[pid]


def pytest_configure(config: pytest.Config) -> None:
    """Point this process's cache and broker at the slot's own Redis database."""
    base = settings.REDIS_URL.rsplit("/", 1)[0]
    redis_url = f"{base}/{FIRST_REDIS_DB + _slot()}"
    caches = {"default": {**settings.CACHES["default"], "LOCATION": redis_url}}
    override_settings(CACHES=caches, CELERY_BROKER_URL=redis_url).enable()
    from config.celery import app as celery_app

    celery_app.conf.update(broker_url=redis_url)
    cast(Any, celery_app)._pool = None  # inherited from the parent: the next one is made to the new URL
    # Registered now, after pytest-django, so this fixture wins over pytest-django's own.
    if not config.pluginmanager.has_plugin(_SLOT_DATABASE.__name__):
        config.pluginmanager.register(_SLOT_DATABASE, _SLOT_DATABASE.__name__)


def _maintenance_connection() -> Any:
    database = settings.DATABASES["default"]
    connection = psycopg2.connect(
        dbname="postgres",
        user=database["USER"],
        host=database["HOST"],
        port=database["PORT"] or 5432,
        password=database["PASSWORD"],
    )
    connection.autocommit = True
    return connection


def drop_mutation_databases() -> None:
    """The template and every slot's copy: a fresh run rebuilds them from its own tree."""
    admin = _maintenance_connection()
    with admin.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'test_rememberly_mutation_%'")
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


def _ensure_template(cursor: Any) -> None:
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [TEMPLATE])
    if cursor.fetchone():
        return
    connection = connections["default"]
    connection.settings_dict["TEST"]["NAME"] = TEMPLATE
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    connections.close_all()  # a template must have no open sessions to be copied


@pytest.fixture(scope="session")
def _slot_database(django_db_blocker: Any) -> Iterator[None]:
    """Replaces pytest-django's django_db_setup: a fresh copy of the migrated template."""
    database = f"test_rememberly_mutation_{_slot()}"
    with django_db_blocker.unblock():
        admin = _maintenance_connection()
        with admin.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_TEMPLATE_LOCK_KEY])
            try:
                _ensure_template(cursor)
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_TEMPLATE_LOCK_KEY])
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{database}" TEMPLATE "{TEMPLATE}"')
        connections.close_all()
        for alias in connections:
            connections[alias].settings_dict["NAME"] = database
        settings.DATABASES["default"]["NAME"] = database
    yield
    with django_db_blocker.unblock():
        connections.close_all()  # no session may be inherited by the next fork
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


_SLOT_DATABASE = types.ModuleType("rememberly_slot_database")
_SLOT_DATABASE.django_db_setup = _slot_database  # type: ignore[attr-defined]
