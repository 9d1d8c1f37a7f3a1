"""CSV import: the command and the upload page, on the bulk path."""

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from customers.models import Customer
from interactions.imports import import_job_run
from interactions.models import ImportJob, Interaction
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
    assert "4 rows" in out.getvalue()
    assert "2 imported" in out.getvalue()
    assert "2 refused" in out.getvalue()
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
    assert Interaction.objects.count() == 2
    assert Journey.objects.count() == 1


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


def test_upload_page_imports_in_the_background_and_shows_the_outcome(
    client: Any, administrator: User, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(administrator)
    upload = SimpleUploadedFile("history.csv", (HEADER + GOOD + BAD).encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/imports/", {"file": upload})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/imports/{job.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "Done" in page
    assert "<strong>2</strong> imported" in page
    assert "2 refused" in page
    assert "fax" in page
    assert Interaction.objects.count() == 2
    job.refresh_from_db()
    assert (job.rows_total, job.rows_done, job.content) == (4, 4, "")
    assert "hx-trigger" not in page  # finished: the page stops polling
    assert "history.csv" in client.get("/imports/").content.decode()


def _rows(n: int, start: int = 0) -> str:
    return "".join(
        f"BIG-{i % 9},Big {i % 9},email,1,2025-05-0{1 + i % 9}T10:00:00Z,legacy,big-{i},,row {i}\n"
        for i in range(start, start + n)
    )


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        ("BIG-1,,email,1,2025-05-01T10:00:00Z,legacy,latin,,caf\xe9\n".encode("latin-1"), "Line 1502 is not UTF-8"),
        (b'BIG-1,,email,1,2025-05-01T10:00:00Z,legacy,huge,,"' + b"x" * 200_000 + b'"\n', "not valid CSV"),
    ],
)
def test_a_file_that_cannot_be_read_stores_nothing(tmp_path: Path, tail: bytes, reason: str) -> None:
    """Security audit #4 and #5: a latin-1 byte or a 200k-character cell near row 1,500 used
    to come after 1,000 rows were stored."""
    path = tmp_path / "history.csv"
    path.write_bytes((HEADER + _rows(1500)).encode() + tail + _rows(10, 2000).encode())
    with pytest.raises(CommandError, match=reason):
        call_command("import_interactions", path, "--no-progress", stdout=StringIO())
    assert not Interaction.objects.exists()
    assert not Customer.objects.exists()


def test_bad_values_after_row_1000_are_row_errors_not_a_half_import(tmp_path: Path) -> None:
    """Security audit #5: year 0001, a NUL in resolves: 500 and a traceback before."""
    bad = (
        "BIG-1,,email,1,0001-01-01T00:00:00Z,legacy,y1,,year one\n"
        "BIG-1,,call,2,2025-05-01T10:00:00Z,legacy,nul,c\x00d,recovery\n"
    )
    out, err = StringIO(), StringIO()
    call_command(
        "import_interactions", _file(tmp_path, HEADER + _rows(1200) + bad + _rows(5, 5000)), "--no-progress",
        stdout=out, stderr=err,
    )  # fmt: skip
    assert "1205 imported" in out.getvalue()
    assert "2 refused" in out.getvalue()
    assert "row 1202: occurred_at" in err.getvalue()
    assert "row 1203: resolves" in err.getvalue()


def test_blank_rows_are_skipped_and_the_row_cap_is_explained(
    client: Any, administrator: User, settings: Any, tmp_path: Path
) -> None:
    """Security audit #6: 2,000 rows then 570k blank rows timed out the worker."""
    settings.IMPORT_MAX_ROWS = 100
    client.force_login(administrator)
    blank = HEADER + _rows(50) + ",,,,,,,,\n" * 570_000
    upload = SimpleUploadedFile("blank.csv", blank.encode(), content_type="text/csv")
    response = client.post("/imports/", {"file": upload})
    assert response.status_code == 302  # 50 rows: the blank lines do not count
    assert ImportJob.objects.get().rows_total == 50
    over = SimpleUploadedFile("over.csv", (HEADER + _rows(101)).encode(), content_type="text/csv")
    refused = client.post("/imports/", {"file": over})
    assert refused.status_code == 400
    assert "more than 100 rows" in refused.content.decode()
    settings.IMPORT_MAX_BYTES = 1000
    large = SimpleUploadedFile("large.csv", (HEADER + _rows(30)).encode(), content_type="text/csv")
    too_big = client.post("/imports/", {"file": large})
    assert too_big.status_code == 400
    assert "the limit is" in too_big.content.decode()
    assert ImportJob.objects.count() == 1


def test_the_job_page_polls_while_the_import_runs(client: Any, administrator: User) -> None:
    job = ImportJob.objects.create(filename="running.csv", content=HEADER + GOOD, rows_total=2)
    client.force_login(administrator)
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in page
    assert "Queued" in page
    partial = client.get(f"/imports/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<section class="card" id="import-job"')
    import_job_run(job_id=job.pk)
    import_job_run(job_id=job.pk)  # a second run (a redelivered task) changes nothing
    job.refresh_from_db()
    assert (job.status, job.created, job.duplicates) == ("done", 2, 0)


def test_upload_page_explains_a_wrong_file(client: Any, administrator: User) -> None:
    client.force_login(administrator)
    upload = SimpleUploadedFile("x.csv", b"a,b\n1,2\n", content_type="text/csv")
    assert "lacks the column" in client.post("/imports/", {"file": upload}).content.decode()
    upload = SimpleUploadedFile("x.csv", b"\xff\xfe\x00bad", content_type="text/csv")
    assert "Line 1 is not UTF-8" in client.post("/imports/", {"file": upload}).content.decode()


@pytest.mark.parametrize("persona", ["staff_member", "manager", "outsider"])
def test_upload_page_is_for_administrators_only(client: Any, persona: str, request: pytest.FixtureRequest) -> None:
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/imports/").status_code == 403


def test_upload_page_requires_login(client: Any) -> None:
    assert client.get("/imports/").status_code == 302


def test_an_import_interrupted_by_the_database_resumes_on_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import OperationalError

    from interactions import imports

    job = ImportJob.objects.create(filename="retry.csv", content=HEADER + GOOD, rows_total=2)
    real = imports.import_rows

    def flaky(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(imports, "import_rows", real)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(imports, "import_rows", flaky)
    with pytest.raises(OperationalError):
        import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "running"
    assert not job.finished
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.created) == ("done", 2)
