"""The documented backup and restore procedure (scripts/backup, scripts/restore), run for
real: a restored copy holds the same customers, touchpoints and scores, and the product
runs on it."""

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from django.utils import timezone

from harness.stack import PROJECT, process_database_url
from memory.services import memory_refresh
from tests.factories import CustomerFactory, record

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Each table as one ordered text: equal texts mean equal contents.
FINGERPRINTS = {
    "customers": "SELECT md5(string_agg(c::text, '|' ORDER BY id)) FROM customers_customer c",
    "interactions": "SELECT md5(string_agg(i::text, '|' ORDER BY id)) FROM interactions_interaction i",
    "journeys": "SELECT md5(string_agg(j::text, '|' ORDER BY id)) FROM journeys_journey j",
    "scores": (
        "SELECT md5(string_agg(concat_ws(',', customer_id, score, band, value, history_version, state::text), '|'"
        " ORDER BY customer_id)) FROM memory_customermemory"
    ),
    "snapshots": "SELECT md5(string_agg(s::text, '|' ORDER BY id)) FROM memory_scoresnapshot s",
    "audit": "SELECT count(*)::text FROM audit_auditentry",
}


def fingerprints(url: str) -> dict[str, str]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        result = {}
        for name, sql in FINGERPRINTS.items():
            cur.execute(sql)
            result[name] = cur.fetchone()[0]
        return result


@pytest.fixture
def restore_url() -> Iterator[str]:
    source = process_database_url()
    # A name of this run's own: two runs on one server never restore into each other.
    url = f"{source}_restored_{secrets.token_hex(4)}"
    server = source.rsplit("/", 1)[0] + "/postgres"
    drop = ["psql", server, "-qc", f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"']
    subprocess.run(drop, check=True)
    yield url
    subprocess.run(drop, check=True)


def test_a_backup_restores_into_a_fresh_database_with_identical_scores(restore_url: str, tmp_path: Path) -> None:
    for n in range(8):
        customer = CustomerFactory.create()
        record(customer, valence=-2, channel="complaint", days=40 + n)
        record(customer, valence=(n % 5) - 2, days=10 + n)
        memory_refresh(customer_id=customer.pk, as_of=timezone.now())
    source = process_database_url()
    env = {**os.environ, "DATABASE_URL": source}
    backup = tmp_path / "rememberly.dump"

    subprocess.run(["bash", "scripts/backup", str(backup)], cwd=PROJECT, env=env, check=True)
    subprocess.run(["bash", "scripts/restore", str(backup), restore_url], cwd=PROJECT, env=env, check=True)

    original = fingerprints(source)
    assert None not in original.values()
    assert fingerprints(restore_url) == original
    # The restored database is complete for the product: every migration is recorded.
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--check"],
        cwd=PROJECT,
        env={**env, "DATABASE_URL": restore_url},
        check=True,
    )
    # A second restore into a database that now has tables is refused, not merged.
    refused = subprocess.run(
        ["bash", "scripts/restore", str(backup), restore_url], cwd=PROJECT, env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert "restore into a new database" in refused.stderr
