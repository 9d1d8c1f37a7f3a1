from django.db import migrations

# The playbooks a new installation starts with; managers change or switch them off on the
# playbooks page. The promoter play ships off: asking every happy customer for a reference
# is a choice, not a default.
DEFAULTS = [
    {
        "name": "At risk: call them",
        "kind": "at_risk",
        "sla_hours": 48,
        "description": "Call the customer: listen, fix what you can, and make the call end well.",
    },
    {
        "name": "Score fell 10 points in a week",
        "kind": "score_drop",
        "drop_points": 10,
        "window_days": 7,
        "sla_hours": 48,
        "description": "Something went wrong lately: find out what, and close it with a good experience.",
    },
    {
        "name": "Complaint waiting for recovery",
        "kind": "complaint_unrecovered",
        "wait_hours": 24,
        "sla_hours": 8,
        "description": "Recover the complaint: a quick, excellent recovery can leave a better memory than no problem.",
    },
    {
        "name": "Journey ended badly",
        "kind": "journey_ended_badly",
        "window_days": 7,
        "sla_hours": 48,
        "description": "Their last episode ended on a low: reach out so the end they remember is a good one.",
    },
    {
        "name": "End on a high",
        "kind": "negative_last_touch",
        "wait_hours": 24,
        "window_days": 7,
        "sla_hours": 24,
        "description": "The latest touch went badly and nothing followed: follow up so it does not stay the ending.",
    },
    {
        "name": "Detractor answered a survey",
        "kind": "detractor",
        "window_days": 7,
        "sla_hours": 24,
        "description": "Call back within a day: thank them, ask what went wrong, and say what you will change.",
    },
    {
        "name": "Promoter answered a survey",
        "kind": "promoter",
        "window_days": 7,
        "sla_hours": 72,
        "enabled": False,
        "send_email": False,
        "description": "Thank them; ask whether they would be a reference or write a review.",
    },
]
GRANTS = {
    "Support staff": ["view_task", "change_task", "view_playbook"],
    "Managers": ["view_task", "change_task", "view_playbook", "add_playbook", "change_playbook"],
    "Administrators": [
        "view_task",
        "change_task",
        "view_playbook",
        "add_playbook",
        "change_playbook",
        "delete_playbook",
    ],
}


def create(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Playbook = apps.get_model("playbooks", "Playbook")
    for fields in DEFAULTS:
        Playbook.objects.get_or_create(name=fields["name"], defaults=fields)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="playbooks", codename__in=codenames))


def remove(apps, schema_editor):
    apps.get_model("playbooks", "Playbook").objects.filter(name__in=[d["name"] for d in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("playbooks", "0001_initial"), ("accounts", "0001_roles")]
    operations = [migrations.RunPython(create, remove)]
