from django.db import migrations

# Role -> model permissions (app_label, codename). Managers see everything staff see; the
# manager-only pages check membership of the Managers group.
READ_WRITE_TOUCHPOINTS = [
    ("customers", "view_customer"),
    ("customers", "add_customer"),
    ("customers", "view_segment"),
    ("interactions", "view_interaction"),
    ("interactions", "add_interaction"),
    ("journeys", "view_journey"),
    ("journeys", "view_journeystage"),
    ("memory", "view_customermemory"),
]
ROLES = {
    "Support staff": READ_WRITE_TOUCHPOINTS,
    "Managers": [*READ_WRITE_TOUCHPOINTS, ("customers", "change_customer"), ("memory", "view_scoresnapshot")],
    "Administrators": None,  # every permission of the product's apps
}
PRODUCT_APPS = ["customers", "interactions", "journeys", "memory"]


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        if perms is None:
            chosen = Permission.objects.filter(content_type__app_label__in=[*PRODUCT_APPS, "auth"])
        else:
            chosen = [
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
                for app_label, codename in perms
            ]
        group.permissions.set(chosen)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("customers", "0001_initial"),
        ("interactions", "0003_seed_channel_defaults"),
        ("journeys", "0002_seed_oconnell_stages"),
        ("memory", "0001_initial"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
