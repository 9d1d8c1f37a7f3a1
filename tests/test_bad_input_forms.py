"""Bad input through the staff's forms (the logging form and the CSV upload): each case is a
400 naming the field, and nothing is stored; hostile text is stored as text and shown
escaped. (The API's catalogue is in test_api.py.)"""

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from customers.models import Customer
from interactions.models import SUMMARY_MAX_LENGTH, Interaction
from tests.factories import CustomerFactory, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Client, staff_member: User) -> Client:
    client.force_login(staff_member)
    return client


def _form(customer: str, overrides: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    return {
        "customer": customer,
        "channel": "call",
        "valence": "1",
        "direction": "inbound",
        "summary": "Called about the invoice",
        "minutes_ago": "0",
        "key": str(uuid.uuid4()),
        **more,
        **(overrides or {}),
    }


BAD_FORMS = [
    ("valence", {"valence": "3"}),
    ("valence", {"valence": "good"}),
    ("valence", {"valence": ""}),
    ("channel", {"channel": "fax"}),
    ("channel", {"channel": "call'; DROP TABLE interactions_interaction; --"}),
    ("stage", {"stage": "nirvana"}),
    ("intensity", {"intensity": "9"}),
    ("direction", {"direction": "sideways"}),
    ("summary", {"summary": "x" * (SUMMARY_MAX_LENGTH + 1)}),
    ("summary", {"summary": "null \x00 byte"}),
    ("minutes_ago", {"minutes_ago": "-5"}),
    ("minutes_ago", {"minutes_ago": "99999999999999999999"}),
    ("minutes_ago", {"minutes_ago": "1e9"}),
    ("key", {"key": "not-a-uuid"}),
    ("key", {"key": ""}),
    ("resolves", {"resolves": "999999"}),
    ("customer", {"customer": ""}),
    ("customer", {"customer": "NO-SUCH-REF", "new_customer_name": "   "}),
    ("customer", {"customer": "x" * 101}),
    ("new_customer_name", {"customer": "NO-SUCH-REF", "new_customer_name": "n" * 201}),
    ("new_customer_name", {"customer": "NO-SUCH-REF", "new_customer_name": "nul\x00name"}),
]


@pytest.mark.parametrize(("field", "overrides"), BAD_FORMS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_FORMS)])
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_bad_log_form_is_a_400_naming_the_field_and_stores_nothing(
    staff_client: Client, customer: Customer, field: str, overrides: dict[str, Any], htmx: bool
) -> None:
    headers = {"HX-Request": "true"} if htmx else {}
    customers_before = Customer.objects.count()
    response = staff_client.post("/log/", _form(customer.ref, overrides), headers=headers)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert Interaction.objects.count() == 0
    assert Customer.objects.count() == customers_before


def test_another_customers_complaint_cannot_be_resolved(staff_client: Client) -> None:
    mine, theirs = CustomerFactory.create(), CustomerFactory.create()
    complaint = record(theirs, channel="complaint", valence=-2)
    response = staff_client.post("/log/", _form(mine.ref, valence="2", resolves=str(complaint.pk)))
    assert response.status_code == 400
    assert "resolves" in response.context["form"].errors
    assert mine.interactions.count() == 0


HOSTILE = [
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "Robert'); DROP TABLE customers_customer;--",
    "\u202egnp.exe \u200b zero-width, right-to-left override",
    "Zalgo: Z\u0351\u0352\u0353a\u0354l\u0355g\u0356o, emoji \U0001f469\u200d\U0001f4bb, CJK \u8bb0\u5fc6",
    "line one\r\nline two\ttabbed \x07 bell",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_stored_as_text_and_rendered_escaped(staff_client: Client, text: str) -> None:
    response = staff_client.post("/log/", _form("NEW", new_customer_name=text, summary=text))
    assert response.status_code == 302, response.content[:500]
    interaction = Interaction.objects.get()
    assert interaction.summary == text
    assert interaction.customer.name == text
    page = staff_client.get(f"/customers/{interaction.customer.pk}/").content.decode()
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    if "<" in text:
        assert "&lt;" in page
    assert Customer.objects.filter(name=text).count() == 1  # the tables are all still there


BAD_UPLOADS = [
    ("history.txt", b"customer_ref\n", "Upload a .csv file."),
    ("history.csv", b"", "empty"),
    ("history.csv", b"\xff\xfe\x00n\x00o\x00t utf-8", "UTF-8"),
    ("history.csv", b"customer_ref,valence\nA,1\n", "column(s): channel, external_id"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_UPLOADS)
def test_bad_uploads_are_explained_and_store_nothing(
    client: Client, administrator: User, name: str, content: bytes, message: str
) -> None:
    client.force_login(administrator)
    response = client.post("/imports/", {"file": SimpleUploadedFile(name, content, content_type="text/csv")})
    assert response.status_code == 400
    assert message.lower() in response.content.decode().lower()
    assert Interaction.objects.count() == 0
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    "path",
    [
        "/log/customers/?customer=a%00b",
        "/log/complaints/?customer=%00",
        "/customers/{pk}/?channel=%00",
        "/customers/{pk}/?stage=x%00",
        "/dashboard/?segment=%00",
        "/api/v1/customers/?q=%00",
        "/api/v1/interactions/?source=a%00",
    ],
)
def test_nul_in_a_query_is_a_400_never_a_500(staff_client: Client, path: str) -> None:
    """Security audit #13: NUL characters reached PostgreSQL and came back as a 500."""
    customer = CustomerFactory.create()
    response = staff_client.get(path.format(pk=customer.pk))
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_nul_in_a_posted_form_is_a_400(staff_client: Client) -> None:
    customer = CustomerFactory.create()
    response = staff_client.post(
        "/log/", {"customer": customer.ref, "channel": "call", "valence": "1", "summary": "a\x00b"}
    )
    assert response.status_code == 400
    assert not Interaction.objects.exists()
