from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_churned_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="memory_version",
            field=models.PositiveBigIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("history_version__gt", models.F("memory_version"))),
                fields=["id"],
                name="customer_memory_behind",
            ),
        ),
    ]
