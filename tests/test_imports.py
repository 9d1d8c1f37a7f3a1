"""CSV import: the command and the upload page, on the bulk path."""

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from customers.models import Customer
from interactions.models import Interaction
from journeys.models import Journey

pytestmark = pytest.mark.django_db

HEADER = "customer_ref,customer_name,channel,valence,occurred_at,source,external_id,resolves,summary\n"
GOOD = (
    "IMP-1,Imported Co,complaint,-1,2025-10-01T09:00:00Z,legacy,c-1,,Late delivery\n"
    'IMP-1,,call,2,2025-10-02T09:00:00Z,legacy,c-2,c-1,"Sorted, with a credit"\n'
)
BAD = "IMP-1,,fax,9,2025-10-02T09:00:00,legacy,c-3,,\nIMP-9,,email,1,2025-10-03T09:00:00Z,legacy,c-4,,\n"


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "history.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_import_stores_good_rows_and_reports_bad_ones_by_row_and_field(tmp_path: Path) -> None:
    out, err = StringIO(), StringIO()
    errors = tmp_path / "errors.csv"
    call_command(
        "import_interactions",
        _file(tmp_path, HEADER + GOOD + BAD),
        "--errors",
        errors,
        "--no-progress",
        stdout=out,
        stderr=err,
    )
    assert "4 rows" in out.getvalue() and "2 imported" in out.getvalue() and "2 refused" in out.getvalue()
    report = errors.read_text().splitlines()
    assert report[0] == "row,field,reason"
    assert any(line.startswith("4,channel,") for line in report)
    assert any(line.startswith("4,occurred_at,") and "time zone" in line for line in report)
    assert any(line.startswith("5,customer_name,") for line in report)
    recovery = Interaction.objects.get(external_id="c-2")
    assert recovery.resolves == Interaction.objects.get(external_id="c-1")
    assert recovery.summary == "Sorted, with a credit"


def test_reimport_imports_nothing_twice(tmp_path: Path) -> None:
    path = _file(tmp_path, HEADER + GOOD)
    call_command("import_interactions", path, "--no-progress", stdout=StringIO())
    out = StringIO()
    call_command("import_interactions", path, "--no-progress", stdout=out)
    assert "0 imported, 2 already there" in out.getvalue()
    assert Interaction.objects.count() == 2 and Journey.objects.count() == 1


def test_import_streams_in_batches(tmp_path: Path) -> None:
    rows = "".join(
        f"S-{i % 7},Customer {i % 7},email,{(i % 5) - 2},2025-0{1 + i % 9}-1{i % 9}T10:00:00Z,bulk,r-{i},,\n"
        for i in range(250)
    )
    out = StringIO()
    call_command(
        "import_interactions", _file(tmp_path, HEADER + rows), "--batch-size", "40", "--no-progress", stdout=out
    )
    assert "250 imported" in out.getvalue()
    assert Customer.objects.count() == 7


def test_missing_columns_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="external_id"):
        call_command(
            "import_interactions",
            _file(tmp_path, "customer_ref,channel,valence\nA,call,1\n"),
            "--no-progress",
            stdout=StringIO(),
        )


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No file"):
        call_command("import_interactions", tmp_path / "nope.csv", stdout=StringIO())


def test_upload_page_imports_for_administrators(client: Any, administrator: User) -> None:
    client.force_login(administrator)
    upload = SimpleUploadedFile("history.csv", (HEADER + GOOD + BAD).encode(), content_type="text/csv")
    response = client.post("/imports/", {"file": upload})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<strong>2</strong> imported" in body and "2 refused" in body
    assert "fax" in body and Interaction.objects.count() == 2


def test_upload_page_explains_a_wrong_file(client: Any, administrator: User) -> None:
    client.force_login(administrator)
    upload = SimpleUploadedFile("x.csv", b"a,b\n1,2\n", content_type="text/csv")
    assert "lacks the column" in client.post("/imports/", {"file": upload}).content.decode()
    upload = SimpleUploadedFile("x.csv", b"\xff\xfe\x00bad", content_type="text/csv")
    assert "not UTF-8" in client.post("/imports/", {"file": upload}).content.decode()


@pytest.mark.parametrize("persona", ["staff_member", "manager", "outsider"])
def test_upload_page_is_for_administrators_only(client: Any, persona: str, request: pytest.FixtureRequest) -> None:
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/imports/").status_code == 403


def test_upload_page_requires_login(client: Any) -> None:
    assert client.get("/imports/").status_code == 302
