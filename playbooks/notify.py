"""What a task says to people (e-mail) and to other systems (webhooks)."""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse

from playbooks.models import Task


def _one_line(text: str) -> str:
    """Names go into subject lines: a line break there is refused (header injection)."""
    return " ".join(text.split())


def task_url(task: Task) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("task-detail", args=[task.pk])


def assignment_email(task: Task) -> EmailMessage:
    context = {"task": task, "url": task_url(task)}
    return EmailMessage(
        subject=_one_line(f"[Rememberly] {task.playbook.name}: {task.customer.name}"),
        body=render_to_string("playbooks/email/assigned.txt", context),
        to=[task.assignee.email] if task.assignee else [],
    )


def escalation_email(task: Task, manager: Any) -> EmailMessage:
    context = {"task": task, "url": task_url(task), "manager": manager}
    return EmailMessage(
        subject=_one_line(f"[Rememberly] Overdue: {task.playbook.name} for {task.customer.name}"),
        body=render_to_string("playbooks/email/escalated.txt", context),
        to=[manager.email],
    )


def digest_email(manager: Any, context: dict[str, Any]) -> EmailMessage:
    return EmailMessage(
        subject=f"[Rememberly] Your team's follow-ups: {len(context['overdue'])} overdue",
        body=render_to_string(
            "playbooks/email/digest.txt",
            {"manager": manager, "url": settings.SITE_URL.rstrip("/") + reverse("team-tasks"), **context},
        ),
        to=[manager.email],
    )


def task_payloads(tasks: Iterable[Task], suffix: str) -> list[tuple[str, dict[str, Any]]]:
    """Webhook items; `suffix` makes the key one per task and event (created, overdue, closed)."""
    return [
        (
            f"task:{task.pk}:{suffix}",
            {
                "task": {
                    "id": task.pk,
                    "playbook": task.playbook.name,
                    "trigger": task.playbook.kind,
                    "customer": task.customer_id,
                    "customer_ref": task.customer.ref,
                    "assignee": task.assignee.get_username() if task.assignee else None,
                    "status": task.status,
                    "reason": task.reason,
                    "due_at": task.due_at.isoformat(),
                    "close_reason": task.close_reason,
                    "closed_at": task.closed_at.isoformat() if task.closed_at else None,
                }
            },
        )
        for task in tasks
    ]
