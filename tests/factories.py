from datetime import UTC, datetime, timedelta
from typing import Any

import factory
from django.contrib.auth.models import Group, User

from customers.models import Customer, Segment
from interactions.models import Interaction
from interactions.services import interaction_record

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-only")

    @factory.post_generation
    def roles(obj: User, create: bool, extracted: list[str] | None, **kwargs: Any) -> None:
        if create and extracted:
            obj.groups.add(*Group.objects.filter(name__in=extracted))
        if create:
            obj.save()


class SegmentFactory(factory.django.DjangoModelFactory[Segment]):
    class Meta:
        model = Segment
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Segment {n}")


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    ref = factory.Sequence(lambda n: f"C-{n:05d}")
    name = factory.Faker("company")
    segment = factory.SubFactory(SegmentFactory)


_counter = iter(range(1, 10**9))


def record(customer: Customer, *, at: datetime | None = None, days: float = 0, **fields: Any) -> Interaction:
    """Record a touchpoint through the real service, with sensible defaults for tests."""
    values: dict[str, Any] = {
        "channel": "call",
        "valence": 1,
        "source": "test",
        "external_id": f"t-{next(_counter)}",
        "refresh_memory": False,
    }
    values.update(fields)
    occurred_at = at or (T0 + timedelta(days=days))
    return interaction_record(customer=customer, occurred_at=occurred_at, **values).interaction
