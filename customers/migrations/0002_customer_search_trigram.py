"""Trigram indexes behind the customer directory's search (any part of the name,
reference, e-mail or company, case-insensitive). Django's `icontains` is
`UPPER(col::text) LIKE UPPER('%text%')`, which no B-tree can serve; a GIN trigram index on
the same expression can, for any search of three characters or more. PostgreSQL only: the
embedded SQLite database scans, which is fine at its size. pg_trgm is a trusted extension
(PostgreSQL 13+), so the database owner may create it without superuser rights."""

from django.db import migrations

FIELDS = ("name", "ref", "email", "company")


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for field in FIELDS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS customer_{field}_trgm ON customers_customer "
            f"USING gin (UPPER({field}::text) gin_trgm_ops)"
        )


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for field in FIELDS:
        schema_editor.execute(f"DROP INDEX IF EXISTS customer_{field}_trgm")


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
