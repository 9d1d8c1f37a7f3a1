from django.db import migrations, models
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce


def copy_memory_versions(apps, schema_editor):
    """Each customer's memory_version starts as the history version its memory has seen."""
    Customer = apps.get_model("customers", "Customer")
    CustomerMemory = apps.get_model("memory", "CustomerMemory")
    seen = CustomerMemory.objects.filter(customer_id=OuterRef("pk")).values("history_version")[:1]
    Customer.objects.update(memory_version=Coalesce(Subquery(seen), Value(0)))


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0005_memory_version"),
        ("memory", "0005_scoring_versions"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customermemory",
            index=models.Index(fields=["parameters_fingerprint"], name="memory_fingerprint_idx"),
        ),
        migrations.RunPython(copy_memory_versions, migrations.RunPython.noop),
    ]
