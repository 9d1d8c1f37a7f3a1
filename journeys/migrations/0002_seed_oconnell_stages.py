from django.db import migrations

# Patrick O'Connell's stages of an experience (The Inn at Little Washington), as retold in
# seeds/003. The descriptions say what the customer feels at each stage, so that staff
# who tag a touchpoint pick the stage by the customer's state of mind, not by our process.
STAGES = [
    (
        "anticipation",
        "Anticipation",
        "Before the experience: the customer imagines what it will be like. Expectations are "
        "set here (marketing, newsletters, events, what others say).",
    ),
    (
        "trepidation",
        "Trepidation",
        "First contact: the customer is unsure, even nervous - will they be understood, is this "
        "the right choice? First calls and chats, onboarding questions.",
    ),
    (
        "inspection",
        "Inspection",
        "The customer looks us over: visits, meetings, first deliveries are checked against what they expected.",
    ),
    (
        "fulfilment",
        "Fulfilment",
        "The service is delivered: tickets are solved, problems fixed, promises kept - or "
        "broken, which is where most complaints are born.",
    ),
    (
        "evaluation",
        "Evaluation",
        "Looking back: the customer judges the whole (account reviews, surveys). An "
        "evaluation ends the episode; the next touchpoint starts a new one.",
    ),
]


def seed_stages(apps, schema_editor):
    JourneyStage = apps.get_model("journeys", "JourneyStage")
    for position, (key, name, description) in enumerate(STAGES, start=1):
        JourneyStage.objects.update_or_create(
            key=key, defaults={"name": name, "description": description, "position": position}
        )


def remove_stages(apps, schema_editor):
    apps.get_model("journeys", "JourneyStage").objects.filter(key__in=[s[0] for s in STAGES]).delete()


class Migration(migrations.Migration):
    dependencies = [("journeys", "0001_initial")]
    operations = [migrations.RunPython(seed_stages, remove_stages)]
