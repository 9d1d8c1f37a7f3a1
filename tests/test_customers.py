import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customers.models import Customer
from customers.services import customer_create, customer_get_or_create, customer_update

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
    assert created and not created_again
    assert again.pk == first.pk and again.name == "New Co"


def test_update_refuses_changing_the_ref(customer: Customer) -> None:
    with pytest.raises(ValidationError):
        customer_update(customer=customer, ref="HIJACK")


def test_update_validates_email(customer: Customer) -> None:
    with pytest.raises(ValidationError) as excinfo:
        customer_update(customer=customer, email="not-an-email")
    assert "email" in excinfo.value.message_dict
