import io

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import ADMINISTRATORS, has_role
from interactions.forms import ImportForm
from interactions.imports import ImportFormatError, import_csv

SHOWN_ERRORS = 200


@login_required
def import_upload(request: HttpRequest) -> HttpResponse:
    """Administrators upload history from another system; rows stream through the bulk path."""
    if not has_role(request.user, ADMINISTRATORS):
        raise PermissionDenied
    report, problem = None, ""
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = import_csv(io.TextIOWrapper(upload.file, encoding="utf-8-sig", newline=""))
        except ImportFormatError as exc:
            problem = str(exc)
        except UnicodeDecodeError:
            problem = "This file is not UTF-8 text. Save it as 'CSV UTF-8' and upload it again."
    return render(
        request,
        "interactions/import.html",
        {"form": form, "report": report, "problem": problem, "shown_errors": SHOWN_ERRORS},
    )
