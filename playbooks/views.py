"""Pages of the playbooks: My work, a task, the team's tasks, and the playbooks themselves."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.access import EVERY_ROLE, MANAGEMENT, role_required
from config.forms import show_refusal
from interactions.forms import TouchpointForm, channel_defaults_json, complaint_choices
from playbooks.access import visible_tasks
from playbooks.forms import CloseForm, PlaybookForm, ReassignForm, SnoozeForm
from playbooks.models import CloseReason, Playbook, Task
from playbooks.selectors import (
    TASK_STATES,
    effect_report,
    my_work,
    playbook_counts,
    team_tasks,
    with_people,
    workload,
)
from playbooks.services import playbook_save, task_close, task_reassign, task_snooze
from playbooks.tasks import queue_emails

TEAM_PAGE = 200


def _visible(request: HttpRequest, pk: int) -> Task:
    """The task, if this person may see it; a task they may not see does not exist for them."""
    return get_object_or_404(with_people(visible_tasks(request.user)), pk=pk)


@role_required(*EVERY_ROLE)
def my_work_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    return render(request, "playbooks/my_work.html", {**my_work(request.user, now), "now": now})


def _task_page(request: HttpRequest, task: Task, status: int = 200, **forms: Any) -> HttpResponse:
    context = {
        "task": task,
        "now": timezone.now(),
        "close_form": forms.get("close_form") or CloseForm(initial={"reason": CloseReason.ACTED}),
        "snooze_form": forms.get("snooze_form") or SnoozeForm(),
        "reassign_form": forms.get("reassign_form") or ReassignForm(),
    }
    return render(request, "playbooks/task.html", context, status=status)


@role_required(*EVERY_ROLE)
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _task_page(request, _visible(request, pk))


def _refused(request: HttpRequest, task: Task, form: Any, exc: ValidationError, name: str) -> HttpResponse:
    show_refusal(form, exc)
    return _task_page(request, task, status=400, **{name: form})


@require_POST
@role_required(*EVERY_ROLE)
def task_close_view(request: HttpRequest, pk: int) -> HttpResponse:
    task = _visible(request, pk)
    form = CloseForm(request.POST)
    if not form.is_valid():
        return _task_page(request, task, status=400, close_form=form)
    try:
        task_close(task=task, actor=request.user, reason=form.cleaned_data["reason"], note=form.cleaned_data["note"])
    except ValidationError as exc:
        return _refused(request, task, form, exc, "close_form")
    messages.success(request, "Task closed.")
    return redirect("my-work")


@require_POST
@role_required(*EVERY_ROLE)
def task_snooze_view(request: HttpRequest, pk: int) -> HttpResponse:
    task = _visible(request, pk)
    form = SnoozeForm(request.POST)
    if not form.is_valid():
        return _task_page(request, task, status=400, snooze_form=form)
    try:
        task_snooze(task=task, actor=request.user, until=form.until())
    except ValidationError as exc:
        return _refused(request, task, form, exc, "snooze_form")
    messages.success(request, f"Snoozed until {timezone.localtime(form.until()):%-d %b %H:%M}.")
    return redirect("my-work")


@require_POST
@role_required(*EVERY_ROLE)
def task_reassign_view(request: HttpRequest, pk: int) -> HttpResponse:
    task = _visible(request, pk)
    form = ReassignForm(request.POST)
    if not form.is_valid():
        return _task_page(request, task, status=400, reassign_form=form)
    try:
        with transaction.atomic():
            task = task_reassign(task=task, actor=request.user, assignee=form.cleaned_data["assignee"])
            queue_emails([task.pk])
    except ValidationError as exc:
        return _refused(request, task, form, exc, "reassign_form")
    given_to = form.cleaned_data["assignee"]
    messages.success(request, f"Given to {given_to.get_full_name() or given_to.username}.")
    return redirect("task-detail", pk=task.pk)


@role_required(*EVERY_ROLE)
def task_log(request: HttpRequest, pk: int) -> HttpResponse:
    """Log the touchpoint that does the task: it is stored, and the task closes linked to it."""
    task = _visible(request, pk)
    customer = task.customer
    if not task.is_open:
        messages.info(request, "This task is already closed.")
        return redirect("task-detail", pk=task.pk)
    if request.method == "POST":
        form = TouchpointForm(request.POST, complaints=complaint_choices(customer))
        if form.is_valid():
            assert isinstance(request.user, User)  # noqa: S101 - role_required lets only signed-in users through
            try:
                with transaction.atomic():
                    result = form.record(customer=customer, staff=request.user)
                    task_close(
                        task=task,
                        actor=request.user,
                        reason=CloseReason.ACTED,
                        note=form.cleaned_data["summary"][:2000],
                        interaction=result.interaction,
                    )
            except ValidationError as exc:
                show_refusal(form, exc)
            else:
                messages.success(request, "Touchpoint logged; the task is done.")
                return redirect("my-work")
        status = 400
    else:
        form = TouchpointForm(initial={"customer": customer.ref, "direction": "outbound"},
                              complaints=complaint_choices(customer))  # fmt: skip
        status = 200
    context = {"task": task, "form": form, "preset": customer, "channel_defaults": channel_defaults_json()}
    return render(request, "playbooks/task_log.html", context, status=status)


def _whole(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


@role_required(*MANAGEMENT)
def team_page(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    state = request.GET.get("state", "open")
    if state not in (*TASK_STATES, "overdue"):
        state = "open"
    assignee, playbook = _whole(request.GET.get("assignee")), _whole(request.GET.get("playbook"))
    tasks = team_tasks(request.user, now, state=state, assignee=assignee, playbook=playbook)
    context = {
        "tasks": tasks[:TEAM_PAGE],
        "shown_limit": TEAM_PAGE,
        "state": state,
        "states": ["open", "overdue", "escalated", "snoozed", "closed"],
        "assignee": assignee,
        "playbook": playbook,
        "playbooks": Playbook.objects.all(),
        "workload": workload(request.user, now),
        "now": now,
    }
    return render(request, "playbooks/team.html", context)


@role_required(*MANAGEMENT)
def playbook_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    counts = playbook_counts(now)
    rows = [(p, counts.get(p.pk, {})) for p in Playbook.objects.select_related("segment", "owner", "stage")]
    effects = effect_report(now)
    context = {
        "rows": rows,
        "effects": effects,
        "judged": any(effect.tasks for effect in effects),
        "can_change": request.user.has_perm("playbooks.change_playbook"),
    }
    return render(request, "playbooks/list.html", context)


@role_required(*MANAGEMENT)
def playbook_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    playbook = get_object_or_404(Playbook, pk=pk) if pk else Playbook()
    needed = "playbooks.change_playbook" if pk else "playbooks.add_playbook"
    if not request.user.has_perm(needed):
        raise PermissionDenied
    form = PlaybookForm(request.POST or None, instance=playbook)
    if request.method == "POST" and form.is_valid():
        try:
            saved = playbook_save(playbook=form.save(commit=False), actor=request.user, changed=form.changes())
        except ValidationError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, f"Playbook \u201c{saved.name}\u201d saved.")
            return redirect("playbook-list")
    status = 400 if request.method == "POST" else 200
    return render(request, "playbooks/edit.html", {"form": form, "playbook": playbook}, status=status)
