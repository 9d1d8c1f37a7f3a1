"""Outcomes (renewed, expanded, downgraded, churned): recorded idempotently from the API,
a CSV file, the customer page and the admin; churned customers marked everywhere."""

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import SUPPORT_STAFF
from audit.models import Action, AuditEntry
from customers.models import Customer
from integrations.models import APIKey
from interactions.models import ImportJob, ImportKind
from interactions.tasks import run_import_job
from memory.services import memory_refresh
from outcomes.imports import outcome_import_create
from outcomes.models import Outcome
from outcomes.tasks import run_outcome_import
from tests.factories import CustomerFactory, UserFactory, record

pytestmark = pytest.mark.django_db


def api(scope: str = "full") -> APIClient:
    _, key = APIKey.objects.create_key(name=f"crm-{scope}", scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def churn(ref: str, external_id: str, *, days_ago: float = 1, kind: str = "churned") -> dict[str, Any]:
    return {
        "customer_ref": ref,
        "kind": kind,
        "occurred_at": (timezone.now() - timedelta(days=days_ago)).isoformat(),
        "source": "crm",
        "external_id": external_id,
        "note": "Cancelled at renewal",
    }


def test_an_outcome_is_recorded_once_and_a_churn_marks_the_customer() -> None:
    customer = CustomerFactory.create(ref="C-1")
    client = api()
    first = client.post("/api/v1/outcomes/", churn("C-1", "contract-9"), format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["kind"] == "churned"
    assert first.json()["customer_ref"] == "C-1"
    again = client.post("/api/v1/outcomes/", churn("C-1", "contract-9"), format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Outcome.objects.count() == 1
    customer.refresh_from_db()
    assert customer.churned_at is not None

    listed = client.get("/api/v1/customers/?churned=true").json()["results"]
    assert [c["ref"] for c in listed] == ["C-1"]
    assert listed[0]["churned_at"]
    assert client.get("/api/v1/customers/?churned=false").json()["results"] == []

    # Won back: a renewal after the churn clears the mark; one dated before it does not.
    client.post("/api/v1/outcomes/", churn("C-1", "old-renewal", days_ago=30, kind="renewed"), format="json")
    customer.refresh_from_db()
    assert customer.churned_at is not None
    client.post("/api/v1/outcomes/", churn("C-1", "won-back", days_ago=0, kind="renewed"), format="json")
    customer.refresh_from_db()
    assert customer.churned_at is None


def test_a_push_key_learns_only_the_id_of_a_repeat() -> None:
    CustomerFactory.create(ref="C-1")
    api().post("/api/v1/outcomes/", churn("C-1", "x-1"), format="json")
    repeat = api("push").post("/api/v1/outcomes/", churn("C-1", "x-1"), format="json")
    assert repeat.status_code == 200
    assert set(repeat.json()) == {"id", "status"}


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"kind": "paused"}, "kind", "is not a valid choice"),
        ({"customer_ref": "NOBODY"}, "customer_ref", "No such customer"),
        ({"occurred_at": "2026-01-01T00:00:00"}, "occurred_at", "no time zone"),
        ({"occurred_at": (timezone.now() + timedelta(days=3)).isoformat()}, "occurred_at", "no later than a day"),
        ({"external_id": ""}, "external_id", "may not be blank"),
        ({"note": "x" * 2001}, "note", "no more than 2000"),
    ],
)
def test_a_bad_outcome_is_a_400_naming_the_field_and_stores_nothing(
    change: dict[str, str], field: str, reason: str
) -> None:
    CustomerFactory.create(ref="C-1")
    response = api().post("/api/v1/outcomes/", {**churn("C-1", "bad-1"), **change}, format="json")
    assert response.status_code == 400
    assert reason in " ".join(response.json()[field])
    assert not Outcome.objects.exists()
    assert Customer.objects.get(ref="C-1").churned_at is None


def test_bulk_outcomes_report_each_bad_item_by_index() -> None:
    CustomerFactory.create(ref="C-1")
    CustomerFactory.create(ref="C-2")
    items = [churn("C-1", "b-1"), {**churn("C-2", "b-2"), "kind": "?"}, churn("C-2", "b-3", kind="expanded")]
    body = api().post("/api/v1/outcomes/bulk/", {"items": items}, format="json").json()
    assert (body["created"], body["errors"], body["duplicates"]) == (2, 1, 0)
    assert [r["status"] for r in body["results"]] == ["created", "error", "created"]
    assert body["results"][1]["index"] == 1
    assert "kind" in body["results"][1]["errors"]
    assert set(Customer.objects.filter(churned_at__isnull=False).values_list("ref", flat=True)) == {"C-1"}


def test_support_staff_read_outcomes_but_only_managers_record_them_through_the_api(
    staff_member: User, manager: User
) -> None:
    CustomerFactory.create(ref="C-1")
    staff = APIClient()
    staff.force_authenticate(staff_member)
    assert staff.post("/api/v1/outcomes/", churn("C-1", "s-1"), format="json").status_code == 403
    assert staff.get("/api/v1/outcomes/").status_code == 200
    boss = APIClient()
    boss.force_authenticate(manager)
    assert boss.post("/api/v1/outcomes/", churn("C-1", "m-1"), format="json").status_code == 201
    assert Outcome.objects.get().recorded_by == manager
    assert api("read").post("/api/v1/outcomes/", churn("C-1", "r-1"), format="json").status_code == 403


def test_a_csv_of_outcomes_imports_once(tmp_path: Path) -> None:
    CustomerFactory.create(ref="C-1")
    CustomerFactory.create(ref="C-2")
    path = tmp_path / "crm.csv"
    path.write_text(
        "customer_ref,kind,occurred_at,source,external_id,note\n"
        "C-1,churned,2026-03-01T00:00:00Z,crm,k-1,Moved to a rival\n"
        "C-2,renewed,2026-03-02T00:00:00Z,crm,k-2,\n"
        "C-3,renewed,2026-03-02T00:00:00Z,crm,k-3,\n"
    )
    out, err = io.StringIO(), io.StringIO()
    call_command("import_outcomes", str(path), "--no-progress", stdout=out, stderr=err)
    assert "3 rows" in out.getvalue()
    assert "2 imported, 0 already there, 1 refused" in out.getvalue()
    assert "row 4: customer_ref: No such customer" in err.getvalue()
    call_command("import_outcomes", str(path), "--no-progress", stdout=out, stderr=err)
    assert "0 imported, 2 already there, 1 refused" in out.getvalue()
    assert Outcome.objects.count() == 2
    assert Customer.objects.get(ref="C-1").churned_at is not None


CRM_EXPORT = (
    "customer_ref,kind,occurred_at,source,external_id,note\n"
    "C-1,churned,2026-03-01T00:00:00Z,crm,k-1,Moved to a rival\n"
    "C-2,renewed,2026-03-02T00:00:00Z,crm,k-2,\n"
    "C-3,renewed,2026-03-02T00:00:00Z,crm,k-3,\n"
    "C-2,lapsed,2026-03-02,crm,k-4,\n"
)


def test_an_administrator_uploads_outcomes_and_sees_every_refused_row(
    client: Client, administrator: User, django_capture_on_commit_callbacks: Any
) -> None:
    CustomerFactory.create(ref="C-1")
    CustomerFactory.create(ref="C-2")
    client.force_login(administrator)
    upload = SimpleUploadedFile("crm.csv", CRM_EXPORT.encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/outcomes/import/", {"file": upload})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/imports/{job.pk}/"
    assert job.kind == ImportKind.OUTCOMES
    page = client.get(response["Location"]).content.decode()
    assert "Done" in page
    assert "<strong>2</strong> imported" in page
    assert "2 refused" in page
    assert "No such customer" in page
    assert "lapsed" in page
    assert 'href="/outcomes/import/"' in page  # back to the outcomes import, not the touchpoints'
    assert set(Outcome.objects.values_list("external_id", "recorded_by")) == {
        ("k-1", administrator.pk),
        ("k-2", administrator.pk),
    }
    assert Customer.objects.get(ref="C-1").churned_at is not None
    listing = client.get("/outcomes/import/").content.decode()
    assert "crm.csv" in listing
    assert "crm.csv" not in client.get("/imports/").content.decode()

    # The same file again stores nothing twice.
    upload = SimpleUploadedFile("crm.csv", CRM_EXPORT.encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/outcomes/import/", {"file": upload})
    again = ImportJob.objects.order_by("-pk").first()
    assert again is not None
    assert (again.created, again.duplicates, again.failed) == (0, 2, 2)
    assert Outcome.objects.count() == 2


def test_an_outcome_file_missing_a_column_is_refused_whole(client: Client, administrator: User) -> None:
    client.force_login(administrator)
    upload = SimpleUploadedFile("crm.csv", b"customer_ref,kind,source\nC-1,churned,crm\n", content_type="text/csv")
    response = client.post("/outcomes/import/", {"file": upload})
    assert response.status_code == 400
    assert "lacks the column(s): external_id, occurred_at" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert not Outcome.objects.exists()


def test_an_outcome_job_is_never_run_as_touchpoints(client: Client, administrator: User) -> None:
    """Each kind's task runs only its own jobs: a touchpoint task handed an outcome job
    (a misrouted message) leaves it alone."""
    CustomerFactory.create(ref="C-1")
    job = outcome_import_create(created_by=administrator, filename="crm.csv", raw=CRM_EXPORT.encode())
    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == "queued"
    assert not Outcome.objects.exists()
    run_outcome_import(job.pk)
    job.refresh_from_db()
    assert job.status == "done"
    assert Outcome.objects.count() == 1


def test_the_owner_records_an_outcome_on_the_customer_page_and_a_double_submit_is_one(
    client: Client, staff_member: User
) -> None:
    customer = CustomerFactory.create(name="Harbour Ltd", owner=staff_member)
    client.force_login(staff_member)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert f'href="/customers/{customer.pk}/outcomes/new/"' in page
    assert "No renewal" in page
    form = client.get(f"/customers/{customer.pk}/outcomes/new/").context["form"]
    data = {"kind": "churned", "occurred_on": "2026-11-01", "note": "Budget cut", "key": form.initial["key"]}
    for _ in range(2):
        response = client.post(f"/customers/{customer.pk}/outcomes/new/", data)
        assert response.status_code == 302
        assert response["Location"].endswith("#outcomes")
    assert Outcome.objects.filter(customer=customer).count() == 1
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert "churned Nov 2026" in page
    assert "Budget cut" in page

    future = {**data, "occurred_on": (timezone.localdate() + timedelta(days=5)).isoformat(), "key": "0" * 32}
    refused = client.post(f"/customers/{customer.pk}/outcomes/new/", future)
    assert refused.status_code == 400
    assert "in the future" in refused.content.decode()


def test_support_staff_cannot_record_outcomes_for_customers_they_do_not_own(client: Client) -> None:
    sam = UserFactory.create(username="sam2", roles=[SUPPORT_STAFF])
    customer = CustomerFactory.create()
    client.force_login(sam)
    data = {"kind": "churned", "occurred_on": "2026-11-01", "key": "1" * 32}
    assert client.post(f"/customers/{customer.pk}/outcomes/new/", data).status_code == 403
    assert not Outcome.objects.exists()


def test_churned_customers_are_marked_and_filtered_in_the_directory_and_dashboard(
    client: Client, manager: User
) -> None:
    gone = CustomerFactory.create(name="Gone Ltd", ref="G-1")
    staying = CustomerFactory.create(name="Staying Ltd", ref="S-1")
    for customer in (gone, staying):
        record(customer, at=timezone.now() - timedelta(days=2), channel="complaint", valence=-2)
        memory_refresh(customer_id=customer.pk)
    api().post("/api/v1/outcomes/", churn("G-1", "g-1"), format="json")
    client.force_login(manager)

    def names(url: str) -> list[str]:
        return [c.name for c in client.get(url).context["page"].object_list]

    assert names("/customers/") == ["Gone Ltd", "Staying Ltd"]
    assert names("/customers/?lifecycle=churned") == ["Gone Ltd"]
    assert names("/customers/?lifecycle=current") == ["Staying Ltd"]
    assert "churned " in client.get("/customers/").content.decode()

    def at_risk(url: str) -> list[str]:
        return [m.customer.name for m in client.get(url).context["at_risk"]]

    assert sorted(at_risk("/dashboard/")) == ["Gone Ltd", "Staying Ltd"]  # all, by default, marked
    assert at_risk("/dashboard/?lifecycle=current") == ["Staying Ltd"]
    assert at_risk("/dashboard/?lifecycle=churned") == ["Gone Ltd"]
    assert 'class="tag churned"' in client.get("/dashboard/").content.decode()


def test_deleting_the_churn_in_the_admin_clears_the_mark_on_the_record(client: Client, administrator: User) -> None:
    customer = CustomerFactory.create(ref="C-1")
    api().post("/api/v1/outcomes/", churn("C-1", "a-1"), format="json")
    outcome = Outcome.objects.get()
    client.force_login(administrator)
    response = client.post(f"/admin/outcomes/outcome/{outcome.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.churned_at is None
    assert not Outcome.objects.exists()
    entry = AuditEntry.objects.get(object_type="outcomes.Outcome", action=Action.DELETE)
    assert entry.actor == administrator
    assert entry.changes["kind"] == "churned"


@pytest.mark.parametrize("value", ["maybe", "1", "-58800"])
def test_a_churned_filter_that_is_not_true_or_false_is_a_400(value: str) -> None:
    response = api("read").get(f"/api/v1/customers/?churned={value}")
    assert response.status_code == 400
    assert "churned" in response.json()
