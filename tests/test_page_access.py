"""Every page x every role: who gets in, who is sent to log in, who is refused."""

from typing import Any

import pytest
from django.test import Client

from accounts.roles import MANAGERS, SUPPORT_STAFF
from accounts.teams import set_manager
from integrations.models import APIKey
from interactions.models import ImportJob, Interaction
from memory.services import memory_refresh
from playbooks.models import Playbook, Task
from tests.factories import CustomerFactory, UserFactory, record

pytestmark = pytest.mark.django_db

EVERY_ROLE = {"staff_member": 200, "manager": 200, "administrator": 200, "outsider": 403}
MANAGERS_ONLY = {"staff_member": 403, "manager": 200, "administrator": 200, "outsider": 403}
ADMINS_ONLY = {"staff_member": 403, "manager": 403, "administrator": 200, "outsider": 403}
PAGES = [
    ("/", EVERY_ROLE),
    ("/log/", EVERY_ROLE),
    ("/customers/", EVERY_ROLE),
    ("/customers/?q=ac&band=at_risk&sort=-score", EVERY_ROLE),
    ("/customers/{pk}/", EVERY_ROLE),
    ("/customers/{pk}/log/", EVERY_ROLE),
    ("/customers/{pk}/memory-badge/?version=1", EVERY_ROLE),
    # Support staff edit only the customers they own and correct only what they logged.
    ("/customers/{pk}/edit/", MANAGERS_ONLY),
    ("/touchpoints/{touchpoint}/correct/", MANAGERS_ONLY),
    ("/log/customers/?customer=ac", EVERY_ROLE),
    ("/log/complaints/?customer=C-1", EVERY_ROLE),
    ("/dashboard/", MANAGERS_ONLY),
    ("/dashboard/?export=at_risk", MANAGERS_ONLY),
    ("/imports/", ADMINS_ONLY),
    ("/imports/{job}/", ADMINS_ONLY),
    ("/outcomes/import/", ADMINS_ONLY),
    ("/work/", EVERY_ROLE),
    ("/tasks/", MANAGERS_ONLY),
    ("/tasks/?state=overdue&playbook=1&assignee=1", MANAGERS_ONLY),
    ("/playbooks/", MANAGERS_ONLY),
    ("/playbooks/new/", MANAGERS_ONLY),
    ("/playbooks/{playbook}/", MANAGERS_ONLY),
]


@pytest.fixture
def customer_pk() -> int:
    customer = CustomerFactory.create()
    record(customer)
    memory_refresh(customer_id=customer.pk)
    return customer.pk


@pytest.mark.parametrize(("path", "expected"), PAGES)
@pytest.mark.parametrize("persona", ["anonymous", "api_key", "staff_member", "manager", "administrator", "outsider"])
def test_page_access_by_role(
    client: Client, path: str, expected: dict[str, int], persona: str, customer_pk: int, request: Any
) -> None:
    headers = {}
    if persona == "api_key":
        # A key of any scope is for the API only: to the pages its bearer is anonymous.
        _, key = APIKey.objects.create_key(name="pages", scope="full")
        headers = {"Authorization": f"Api-Key {key}"}
    elif persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    job = ImportJob.objects.create(filename="history.csv", rows_total=0)
    touchpoint = Interaction.objects.filter(customer_id=customer_pk).values_list("pk", flat=True).first()
    playbook = Playbook.objects.values_list("pk", flat=True).first()
    url = path.format(pk=customer_pk, job=job.pk, touchpoint=touchpoint, playbook=playbook)
    response = client.get(url, headers=headers)
    if persona in ("anonymous", "api_key"):
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    else:
        assert response.status_code == expected[persona]


@pytest.mark.parametrize(
    ("persona", "expected"),
    [("anonymous", 302), ("staff_member", 302), ("manager", 302), ("outsider", 302), ("administrator", 200)],
)
@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/audit/auditentry/",
        "/admin/integrations/apikey/",
        "/admin/auth/user/",
        "/admin/auth/group/",
        "/admin/integrations/webhooksubscription/",
    ],
)
def test_admin_and_audit_log_are_for_administrators_only(
    client: Client, path: str, persona: str, expected: int, request: Any
) -> None:
    if persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    response = client.get(path)
    assert response.status_code == expected
    if expected == 302:
        assert response["Location"].startswith("/admin/login/")


def test_log_form_post_requires_csrf(staff_member: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_member)
    assert client.post("/log/", {"customer": "X"}).status_code == 403


def test_dashboard_query_count_is_flat(client: Client, manager: Any, django_assert_max_num_queries: Any) -> None:
    for n in range(25):
        customer = CustomerFactory.create()
        record(customer, channel="complaint", valence=-1, days=n, staff=manager)
        memory_refresh(customer_id=customer.pk)
    client.force_login(manager)
    with django_assert_max_num_queries(20):
        assert client.get("/dashboard/?period=365").status_code == 200


def test_roles_belong_to_signed_in_people_and_a_superuser_holds_every_one(
    django_assert_num_queries: Any,
) -> None:
    """The rule every page's check stands on (accounts/roles.py): no role without signing
    in, a superuser holds all three without being in any group, anyone else exactly the
    groups they are in, read once per request."""
    from django.contrib.auth.models import AnonymousUser

    from accounts.roles import ADMINISTRATORS, ALL_ROLES, MANAGERS, SUPPORT_STAFF, has_role
    from tests.factories import UserFactory

    for nobody in (AnonymousUser(), None, object()):
        assert not any(has_role(nobody, role) for role in ALL_ROLES)
    root = UserFactory.create(username="root", is_superuser=True)
    assert all(has_role(root, role) for role in ALL_ROLES)
    lead = UserFactory.create(username="lead", roles=[MANAGERS, SUPPORT_STAFF])
    with django_assert_num_queries(1):
        held = [role for role in ALL_ROLES if has_role(lead, role)]
    assert held == [SUPPORT_STAFF, MANAGERS]
    assert not has_role(lead, ADMINISTRATORS)


# A task page: its assignee, their manager and administrators get in; another member of
# staff and a manager of another team are told it does not exist (404), not that it is
# someone else's; people without a role are refused.
TASK_PAGES = ["/tasks/{task}/", "/tasks/{task}/log/"]


@pytest.mark.parametrize("path", TASK_PAGES)
@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("assignee", 200),
        ("their_manager", 200),
        ("administrator", 200),
        ("staff_member", 404),
        ("manager", 404),
        ("outsider", 403),
        ("anonymous", 302),
    ],
)
def test_task_pages_by_role(client: Client, path: str, persona: str, expected: int, request: Any) -> None:
    assignee = UserFactory.create(username="assigned", roles=[SUPPORT_STAFF])
    their_manager = UserFactory.create(username="boss", roles=[MANAGERS])
    set_manager(user=assignee, manager=their_manager)
    customer = CustomerFactory.create(owner=assignee)
    task = Task.objects.create(
        playbook=Playbook.objects.get(kind="at_risk"),
        customer=customer,
        assignee=assignee,
        reason="r",
        due_at=customer.created_at,
    )
    people = {"assignee": assignee, "their_manager": their_manager}
    if persona in people:
        client.force_login(people[persona])
    elif persona != "anonymous":
        client.force_login(request.getfixturevalue(persona))
    assert client.get(path.format(task=task.pk)).status_code == expected
