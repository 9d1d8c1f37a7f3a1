from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from customers.models import Customer
from customers.services import customer_create, customer_get_or_create, customer_update
from memory.services import memory_refresh
from tests.factories import CustomerFactory, SegmentFactory, UserFactory, record

pytestmark = pytest.mark.django_db


def test_customer_ref_is_unique_with_a_clear_error() -> None:
    customer_create(ref="ACME-1", name="Acme")
    with pytest.raises(ValidationError) as excinfo:
        customer_create(ref="ACME-1", name="Acme again")
    assert "ref" in excinfo.value.message_dict
    assert Customer.objects.count() == 1


def test_blank_ref_is_refused_by_service_and_database() -> None:
    with pytest.raises(ValidationError):
        customer_create(ref="  ", name="Nobody")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(ref="", name="Nobody")


def test_unknown_ref_without_a_name_is_an_error_naming_customer_name() -> None:
    with pytest.raises(ValidationError) as excinfo:
        customer_get_or_create(ref="NEW-1")
    assert "customer_name" in excinfo.value.message_dict
    assert not Customer.objects.exists()


def test_unknown_ref_with_a_name_creates_the_customer_once() -> None:
    first, created = customer_get_or_create(ref="NEW-2", name="New Co")
    again, created_again = customer_get_or_create(ref="NEW-2", name="Other name")
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert again.name == "New Co"


def test_update_refuses_changing_the_ref(customer: Customer) -> None:
    with pytest.raises(ValidationError):
        customer_update(customer=customer, ref="HIJACK")


def test_update_validates_email(customer: Customer) -> None:
    with pytest.raises(ValidationError) as excinfo:
        customer_update(customer=customer, email="not-an-email")
    assert "email" in excinfo.value.message_dict


# --- the customer directory (/customers/) ---------------------------------------------------
def _names(client: Client, query: str = "") -> list[str]:
    response = client.get(f"/customers/?{query}")
    assert response.status_code == 200, response.content[:500]
    return [c.name for c in response.context["page"].object_list]


@pytest.fixture
def directory(staff_member: User) -> dict[str, Customer]:
    enterprise = SegmentFactory.create(name="Enterprise")
    owner = UserFactory.create(username="olga", first_name="Olga")
    people = {
        "acme": CustomerFactory.create(name="Acme Ltd", ref="ACME-7", email="ops@acme.example", company="Acme Group"),
        "north": CustomerFactory.create(
            name="Northwind",
            ref="NW-1",
            email="it@northwind.example",
            company="Northwind Holdings",
            segment=enterprise,
            owner=owner,
        ),
        "zeta": CustomerFactory.create(name="Zeta Bank", ref="ZB-2", email="cio@zeta.example", company="Zeta"),
    }
    recently = timezone.now() - timedelta(hours=1)
    record(people["acme"], at=recently, channel="complaint", valence=-2)
    record(people["north"], at=recently, valence=2, intensity=5)
    for customer in people.values():
        memory_refresh(customer_id=customer.pk)
    return people


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=acme", ["Acme Ltd"]),  # name, prefix, any case
        ("q=wind", ["Northwind"]),  # substring
        ("q=zb-2", ["Zeta Bank"]),  # reference
        ("q=cio%40zeta", ["Zeta Bank"]),  # e-mail
        ("q=holdings", ["Northwind"]),  # company
        ("q=nobody", []),
        ("band=at_risk", ["Acme Ltd"]),
        ("sort=-score", ["Northwind", "Zeta Bank", "Acme Ltd"]),  # Zeta, no touchpoints, is neutral
        ("sort=score", ["Acme Ltd", "Zeta Bank", "Northwind"]),
        ("sort=last_touch", ["Northwind", "Acme Ltd", "Zeta Bank"]),  # same time: the newer customer first
        ("", ["Acme Ltd", "Northwind", "Zeta Bank"]),
    ],
)
def test_directory_finds_filters_and_sorts(
    client: Client, staff_member: User, directory: dict[str, Customer], query: str, expected: list[str]
) -> None:
    client.force_login(staff_member)
    assert _names(client, query) == expected


def test_directory_filters_by_segment_and_owner(
    client: Client, staff_member: User, directory: dict[str, Customer]
) -> None:
    client.force_login(staff_member)
    north = directory["north"]
    assert _names(client, f"segment={north.segment_id}") == ["Northwind"]
    assert _names(client, f"owner={north.owner_id}") == ["Northwind"]
    assert client.get("/customers/?band=nonsense").status_code == 400


def test_directory_pages_and_keeps_the_query(
    client: Client, staff_member: User, django_assert_max_num_queries: Any
) -> None:
    for n in range(120):
        CustomerFactory.create(name=f"Paged {n:03d}")
    client.force_login(staff_member)
    with django_assert_max_num_queries(10):  # count + one page, whatever the number of customers
        first = client.get("/customers/?q=paged")
    assert [c.name for c in first.context["page"].object_list][:2] == ["Paged 000", "Paged 001"]
    assert "q=paged&amp;page=2" in first.content.decode()
    third = client.get("/customers/?q=paged&page=3")
    assert [c.name for c in third.context["page"].object_list] == [f"Paged {n:03d}" for n in range(100, 120)]
    assert client.get("/customers/?q=paged&page=999").context["page"].number == 3  # past the end: the last page


def test_a_memory_sort_lists_customers_not_scored_yet_last_across_pages(
    client: Client, staff_member: User, django_assert_max_num_queries: Any
) -> None:
    """Sorted by a memory figure, the scored customers come in that order and those with no
    memory yet follow by name, in either direction, and a page can straddle the two."""
    for n in range(60):
        customer = CustomerFactory.create(name=f"Scored {n:03d}")
        record(customer, at=timezone.now() - timedelta(days=n), valence=1)
        memory_refresh(customer_id=customer.pk)
    for n in range(45):
        CustomerFactory.create(name=f"Waiting {n:03d}")
    client.force_login(staff_member)
    for sort in ("score", "-score", "last_touch", "trend"):
        with django_assert_max_num_queries(12):
            first = client.get(f"/customers/?sort={sort}")
        second = _names(client, f"sort={sort}&page=2")
        third = _names(client, f"sort={sort}&page=3")
        assert first.context["page"].paginator.count == 105
        names = [c.name for c in first.context["page"].object_list] + second + third
        assert len(names) == 105, sort
        assert len(set(names)) == 105, sort
        assert all(n.startswith("Scored") for n in names[:60]), sort
        assert names[60:] == [f"Waiting {n:03d}" for n in range(45)], sort
    by_score = _names(client, "sort=score") + _names(client, "sort=score&page=2")
    score_of = dict(Customer.objects.filter(name__startswith="Scored").values_list("name", "memory__score"))
    scores = [score_of[name] for name in by_score[:60]]
    assert scores == sorted(scores)  # lowest first, across the page boundary
    newest_first = _names(client, "sort=last_touch")
    assert newest_first[:3] == ["Scored 000", "Scored 001", "Scored 002"]


def test_directory_is_linked_from_every_page(client: Client, staff_member: User) -> None:
    client.force_login(staff_member)
    assert 'href="/customers/"' in client.get("/").content.decode()
