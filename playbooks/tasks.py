"""Thin Celery tasks of the playbooks: take ids, call a service, safe to run twice."""

import logging
from collections.abc import Iterable

from celery import shared_task
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts.roles import MANAGERS
from config.tasking import RETRY_ON_DATABASE_OUTAGE, enqueue_after_commit, gather, release_coalesced
from playbooks.notify import digest_email
from playbooks.selectors import digest_for
from playbooks.services import (
    escalation_email_send,
    evaluations_pend,
    pending_evaluations_run,
    playbooks_evaluate,
    task_email_send,
    tasks_follow_up,
)

logger = logging.getLogger(__name__)

EMAIL_RETRY_SECONDS = (30, 60, 120, 300, 600, 1200, 1800)


def queue_emails(task_ids: Iterable[int]) -> None:
    for task_id in task_ids:
        enqueue_after_commit(send_task_email, task_id, outside_request=True)


EVALUATION_QUEUED = "playbooks-evaluation-queued"


def schedule_evaluation(customer_ids: list[int]) -> None:
    """Evaluate the playbooks for these customers once their new scores are committed.

    The customers are noted in the database, and one task at a time drains the notes:
    under a stream of scores one evaluation covers every customer that arrived meanwhile,
    at about the cost of one (the triggers are set-based), instead of a task per score
    crowding out the memory refreshes. The note is written after the memory commits, in a
    statement of its own: inside the memory's transaction the note of a customer two
    refreshes stored at once made one wait for the other while holding its locks, and
    concurrent writes and refreshes deadlocked (tests/test_lock_order.py). A note lost
    with a process that died in between is covered by the five-minute pass."""
    if customer_ids:
        ids = sorted(customer_ids)
        transaction.on_commit(lambda: _note_and_queue(ids), robust=True)


def _note_and_queue(customer_ids: list[int]) -> None:
    evaluations_pend(customer_ids)
    # Database work only: without a broker it runs in-process; its e-mails go to the background.
    enqueue_after_commit(evaluate_pending_playbooks, coalesce_key=EVALUATION_QUEUED)


EVALUATION_STARTED = "playbooks-evaluation-started"


# Acknowledged when it starts, not when done: it may wait (gather) first, and a message
# held unacknowledged while Redis goes away crashes the worker (config/tasking.gather).
# Nothing is lost with it: the notes are deleted in the transaction that evaluates them,
# so a worker that dies leaves them for the five-minute pass.
@shared_task(**{**RETRY_ON_DATABASE_OUTAGE, "acks_late": False}, max_retries=5, time_limit=500, soft_time_limit=480)
def evaluate_pending_playbooks() -> int:
    # The queued mark is still set while it gathers: scores stored meanwhile queue no task
    # of their own, this one takes them.
    gather(evaluate_pending_playbooks, EVALUATION_STARTED, settings.PLAYBOOKS_GATHER_SECONDS)
    release_coalesced(EVALUATION_QUEUED)
    result = pending_evaluations_run()
    queue_emails(result.emails)
    return result.created


@shared_task(**RETRY_ON_DATABASE_OUTAGE, max_retries=3, time_limit=500, soft_time_limit=480)
def evaluate_all_playbooks() -> int:
    """Periodic: every playbook for every customer (the waits that became too long while
    nothing was written, and anything a lost task missed). Customers still noted for an
    evaluation whose task was lost are evaluated first, so their notes do not linger."""
    result = pending_evaluations_run()
    result.add(playbooks_evaluate())
    queue_emails(result.emails)
    if result.created or result.resolved:
        logger.info("playbooks: %d tasks created, %d resolved by themselves", result.created, result.resolved)
    return result.created


@shared_task(**RETRY_ON_DATABASE_OUTAGE, max_retries=3)
def follow_up_tasks() -> int:
    result = tasks_follow_up()
    queue_emails(result.emails)
    for task_id in result.escalated:
        enqueue_after_commit(send_escalation_email, task_id, outside_request=True)
    return result.overdue


@shared_task(bind=True, **RETRY_ON_DATABASE_OUTAGE, max_retries=len(EMAIL_RETRY_SECONDS))
def send_task_email(self, task_id: int) -> None:  # type: ignore[no-untyped-def]
    sent = task_email_send(task_id=task_id)
    # The failure is on the task; follow_up_tasks picks it up again if these retries run out.
    # Run in-process (no broker), a retry would wait inside the caller: leave it to follow-up.
    if not sent and not self.request.is_eager and self.request.retries < len(EMAIL_RETRY_SECONDS):
        raise self.retry(countdown=EMAIL_RETRY_SECONDS[self.request.retries])


@shared_task(
    **{
        **RETRY_ON_DATABASE_OUTAGE,
        # A mail server's failures (smtplib's among them) are OSErrors.
        "autoretry_for": (*RETRY_ON_DATABASE_OUTAGE["autoretry_for"], OSError),
        "retry_backoff": 60,
        "max_retries": 6,
    }
)
def send_escalation_email(task_id: int) -> None:
    escalation_email_send(task_id=task_id)


@shared_task(**RETRY_ON_DATABASE_OUTAGE, max_retries=3)
def send_manager_digests() -> int:
    """Daily: each manager with an e-mail address hears what is overdue and what changed."""
    now = timezone.now()
    sent = 0
    for manager in User.objects.filter(groups__name=MANAGERS, is_active=True).exclude(email="").distinct():
        context = digest_for(manager, now)
        if context["overdue"] or context["created"] or context["closed"] or context["escalated"]:
            try:
                digest_email(manager, context).send()
                sent += 1
            except OSError:
                logger.warning("daily digest to %s not sent", manager.get_username(), exc_info=True)
    return sent
