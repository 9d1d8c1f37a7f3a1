"""Indexes the customer directory's memory sorts walk (customer_pages/selectors.py MEMORY_ORDER)."""

from django.db import migrations, models


def create_last_touch_index(apps, schema_editor):  # type: ignore[no-untyped-def]
    """ "Latest touchpoint first": PostgreSQL only, since SQLite cannot declare NULLS LAST
    in an index (the embedded database sorts, which is fine at its size)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS memory_last_touch_idx ON memory_customermemory "
            "(last_interaction_at DESC NULLS LAST, customer_id DESC)"
        )


def drop_last_touch_index(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS memory_last_touch_idx")


class Migration(migrations.Migration):
    dependencies = [("memory", "0003_lived_score")]

    operations = [
        migrations.AddIndex(
            model_name="customermemory",
            index=models.Index(fields=["score", "customer"], name="memory_score_idx"),
        ),
        migrations.AddIndex(
            model_name="customermemory",
            index=models.Index(fields=["trend_30d", "customer"], name="memory_trend_idx"),
        ),
        migrations.RunPython(create_last_touch_index, drop_last_touch_index, elidable=False),
    ]
