from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Count, Sum

from customers.models import Customer
from interactions.models import Interaction
from memory.models import CustomerMemory

pytestmark = pytest.mark.django_db

ARGS = ["--customers", "12", "--days", "120", "--seed", "7", "--today", "2026-06-30", "--no-progress"]


def _fingerprint() -> list[tuple[object, ...]]:
    return list(
        Customer.objects.order_by("ref")
        .annotate(n=Count("interactions"), v=Sum("interactions__valence"))
        .values_list("ref", "name", "segment__name", "owner__username", "n", "v")
    )


def test_seed_demo_creates_logins_customers_touchpoints_and_memories() -> None:
    out = StringIO()
    call_command("seed_demo", *ARGS, stdout=out)
    assert Customer.objects.count() == 12
    assert Interaction.objects.count() > 12 * 3
    assert CustomerMemory.objects.count() == 12
    assert Interaction.objects.filter(channel="complaint").exists()
    assert Interaction.objects.filter(resolves__isnull=False).exists()
    assert Interaction.objects.filter(channel="survey", rating__isnull=False).exists()
    assert User.objects.get(username="maya").groups.filter(name="Managers").exists()
    assert User.objects.get(username="maya").check_password("rememberly-demo")
    text = out.getvalue()
    assert "Demo logins" in text
    assert "sam" in text
    assert "rememberly-demo" in text


def test_seed_demo_is_idempotent() -> None:
    call_command("seed_demo", *ARGS, stdout=StringIO())
    before = (_fingerprint(), Interaction.objects.count(), User.objects.count())
    call_command("seed_demo", *ARGS, stdout=StringIO())
    assert (_fingerprint(), Interaction.objects.count(), User.objects.count()) == before


def test_seed_demo_is_deterministic_for_a_seed() -> None:
    call_command("seed_demo", *ARGS, stdout=StringIO())
    first = _fingerprint()
    Customer.objects.all().delete()
    call_command("seed_demo", *ARGS, stdout=StringIO())
    assert _fingerprint() == first
    Customer.objects.all().delete()
    call_command("seed_demo", *[a if a != "7" else "8" for a in ARGS], stdout=StringIO())
    assert _fingerprint() != first


@pytest.mark.parametrize("seed", range(1, 6))
def test_story_never_schedules_a_touchpoint_after_its_end(seed: int) -> None:
    import random
    from datetime import UTC, datetime, timedelta

    from demo.story import customer_story

    end = datetime(2026, 6, 30, tzinfo=UTC)
    rng = random.Random(seed)
    for _ in range(40):
        story = customer_story(rng, start=end - timedelta(days=365), end=end, staff_skills=[0.9] * 4, owner_index=1)
        assert all(t.at <= end for t in story.touches)
