from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User

from accounts.roles import ADMINISTRATORS, MANAGERS, SUPPORT_STAFF
from config.celery import app as celery_app
from customers.models import Customer
from tests.browser import browser, page  # noqa: F401 - fixtures for the browser tests
from tests.factories import CustomerFactory, UserFactory


@pytest.fixture(autouse=True)
def eager_celery() -> Iterator[None]:
    """Run tasks in-process by default; the worker tests switch this off."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def staff_member(db: None) -> User:
    return UserFactory.create(username="sam", roles=[SUPPORT_STAFF])


@pytest.fixture
def manager(db: None) -> User:
    return UserFactory.create(username="maya", roles=[MANAGERS])


@pytest.fixture
def administrator(db: None) -> User:
    return UserFactory.create(username="ada", roles=[ADMINISTRATORS], is_staff=True, is_superuser=True)


@pytest.fixture
def outsider(db: None) -> User:
    """Logged in, but in no role: sees nothing of the customers."""
    return UserFactory.create(username="olly")


@pytest.fixture
def customer(db: None) -> Customer:
    return CustomerFactory.create()


@pytest.fixture(autouse=True)
def reference_data(request: pytest.FixtureRequest) -> None:
    """Transactional tests flush every table, including the rows the data migrations
    seeded (stages, channel defaults, roles); put them back with the migrations' own
    idempotent functions."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from importlib import import_module

    from django.apps import apps

    for module, function in [
        ("journeys.migrations.0002_seed_oconnell_stages", "seed_stages"),
        ("interactions.migrations.0003_seed_channel_defaults", "seed_defaults"),
        ("accounts.migrations.0001_roles", "create_roles"),
        ("outcomes.migrations.0002_role_permissions", "grant"),
        ("playbooks.migrations.0002_default_playbooks", "create"),
    ]:
        getattr(import_module(module), function)(apps, None)


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Each test starts with an empty cache (Redis db 15): cached dashboard panels or rate
    budgets of one test must not leak into the next."""
    from django.core.cache import cache

    cache.clear()
