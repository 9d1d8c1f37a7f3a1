from django.db import migrations

# Everyone reads outcomes; managers and administrators record them (and the customer's
# owner, from the customer page); administrators may also change and delete them.
# Managers and administrators run and read backtests (granted by 0004, once the model is
# there: `grant` skips codenames that do not exist yet).
GRANTS = {
    "Support staff": ["view_outcome"],
    "Managers": ["view_outcome", "add_outcome", "view_backtestrun", "add_backtestrun"],
    "Administrators": [
        "view_outcome",
        "add_outcome",
        "change_outcome",
        "delete_outcome",
        "view_backtestrun",
        "add_backtestrun",
        "delete_backtestrun",
    ],
}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="outcomes", codename__in=codenames))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GRANTS):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="outcomes"))


class Migration(migrations.Migration):
    dependencies = [("outcomes", "0001_initial"), ("accounts", "0001_roles")]
    operations = [migrations.RunPython(grant, revoke)]
