from django.db import migrations

# channel: (default stage, default intensity 1..5). A complaint is vivid, a newsletter is
# not; proactive or in-person contact sits in between. Administrators can change these.
DEFAULTS = {
    "newsletter": ("anticipation", 1),
    "social": ("anticipation", 2),
    "event": ("anticipation", 4),
    "call": ("trepidation", 3),
    "chat": ("trepidation", 2),
    "email": ("inspection", 2),
    "visit": ("inspection", 4),
    "meeting": ("inspection", 3),
    "support_ticket": ("fulfilment", 3),
    "complaint": ("fulfilment", 5),
    "account_review": ("evaluation", 4),
    "survey": ("evaluation", 2),
}


def seed_defaults(apps, schema_editor):
    JourneyStage = apps.get_model("journeys", "JourneyStage")
    ChannelDefault = apps.get_model("interactions", "ChannelDefault")
    stages = {stage.key: stage for stage in JourneyStage.objects.all()}
    for channel, (stage_key, intensity) in DEFAULTS.items():
        ChannelDefault.objects.update_or_create(
            channel=channel, defaults={"stage": stages[stage_key], "intensity": intensity}
        )


def remove_defaults(apps, schema_editor):
    apps.get_model("interactions", "ChannelDefault").objects.filter(channel__in=DEFAULTS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("interactions", "0002_initial"),
        ("journeys", "0002_seed_oconnell_stages"),
    ]
    operations = [migrations.RunPython(seed_defaults, remove_defaults)]
