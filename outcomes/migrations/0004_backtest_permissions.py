from importlib import import_module

from django.db import migrations

roles = import_module("outcomes.migrations.0002_role_permissions")


class Migration(migrations.Migration):
    dependencies = [("outcomes", "0003_backtest_run")]
    operations = [migrations.RunPython(roles.grant, roles.revoke)]
