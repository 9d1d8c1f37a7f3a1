"""Playbooks (issue 16, docs/playbooks.md): triggers become tasks, tasks are worked, waits
are followed up, and the "did it help" report is computed from scores and outcomes."""

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope
from django.contrib.auth.models import User
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from accounts.roles import MANAGERS, SUPPORT_STAFF
from accounts.teams import set_manager
from audit.models import AuditEntry
from customers.models import Customer
from integrations.models import APIKey, WebhookDelivery, WebhookSubscription
from interactions.models import Interaction
from journeys.models import Journey
from memory.models import Band, CustomerMemory, ScoreSnapshot
from outcomes.models import Outcome
from playbooks.access import visible_tasks
from playbooks.effect import summarise
from playbooks.models import CloseReason, EmailStatus, PendingEvaluation, Playbook, Task, TaskStatus, TriggerKind
from playbooks.selectors import effect_report
from playbooks.services import (
    Evaluation,
    evaluations_pend,
    pending_evaluations_run,
    playbooks_evaluate,
    task_close,
    task_email_send,
    task_reassign,
    task_snooze,
    tasks_follow_up,
)
from playbooks.tasks import EVALUATION_QUEUED, EVALUATION_STARTED, evaluate_all_playbooks, evaluate_pending_playbooks
from tests.factories import CustomerFactory, SegmentFactory, UserFactory, record

pytestmark = pytest.mark.django_db


def _only(kind: TriggerKind, **fields: Any) -> Playbook:
    """Switch every playbook off but one of this kind (with these fields)."""
    Playbook.objects.update(enabled=False)
    playbook = Playbook.objects.filter(kind=kind).first() or Playbook(name=f"test {kind}", kind=kind)
    for name, value in {"enabled": True, **fields}.items():
        setattr(playbook, name, value)
    playbook.save()
    return playbook


def _memory(customer: Customer, *, band: str = Band.AT_RISK, score: float = 30.0, **fields: Any) -> CustomerMemory:
    memory, _ = CustomerMemory.objects.update_or_create(
        customer=customer, defaults={"band": band, "score": score, "next_touch_gain": 6.5, **fields}
    )
    return memory


@pytest.fixture
def owner(db: None) -> User:
    return UserFactory.create(username="olivia", email="olivia@example.com", roles=[SUPPORT_STAFF])


@pytest.fixture
def owned(owner: User) -> Customer:
    return CustomerFactory.create(owner=owner)


# -- triggers into tasks --------------------------------------------------------------------


def test_an_at_risk_customer_gets_one_task_for_their_owner_due_within_the_sla(owned: Customer, owner: User) -> None:
    playbook = _only(TriggerKind.AT_RISK, sla_hours=48)
    _memory(owned, score=31.4)
    now = timezone.now()
    result = playbooks_evaluate(now=now)
    task = Task.objects.get()
    assert (result.created, task.customer, task.assignee, task.playbook) == (1, owned, owner, playbook)
    assert task.due_at == now + timedelta(hours=48)
    assert task.reason == "Memory score 31: in the at-risk band."
    assert "6.5 points" in task.suggestion
    assert task.score_at_open == pytest.approx(31.4)
    assert result.emails == [task.pk]
    assert task.email_status == EmailStatus.PENDING
    # No storms: evaluating again while it holds creates nothing.
    assert playbooks_evaluate(now=now + timedelta(minutes=5)).created == 0
    assert Task.objects.count() == 1


def test_a_state_that_stops_holding_resolves_its_task_by_itself_and_the_cool_down_holds(owned: Customer) -> None:
    playbook = _only(TriggerKind.AT_RISK, cooldown_days=14)
    _memory(owned)
    now = timezone.now()
    playbooks_evaluate(now=now)
    _memory(owned, band=Band.NEUTRAL, score=55)
    assert playbooks_evaluate(now=now + timedelta(hours=1)).resolved == 1
    task = Task.objects.get()
    assert (task.status, task.close_reason) == (TaskStatus.CLOSED, CloseReason.RESOLVED_ITSELF)
    _memory(owned)  # back at risk within the cool-down: no new task yet
    assert playbooks_evaluate(now=now + timedelta(days=2)).created == 0
    assert playbooks_evaluate(now=now + timedelta(days=15)).created == 1
    assert playbook.tasks.count() == 2


def test_customers_without_an_owner_go_to_the_group_member_with_the_fewest_open_tasks(db: None) -> None:
    _only(TriggerKind.AT_RISK)
    first, second = (UserFactory.create(roles=[SUPPORT_STAFF]) for _ in range(2))
    UserFactory.create(roles=[SUPPORT_STAFF], is_active=False)  # never assigned
    for _ in range(3):
        _memory(CustomerFactory.create())
    playbooks_evaluate()
    counts = {u.pk: Task.objects.filter(assignee=u).count() for u in (first, second)}
    assert counts == {first.pk: 2, second.pk: 1}
    assert not Task.objects.filter(assignee__is_active=False).exists()


def test_a_score_drop_reads_the_seven_or_thirty_day_change(owned: Customer) -> None:
    _only(TriggerKind.SCORE_DROP, drop_points=10, window_days=7)
    _memory(owned, band=Band.NEUTRAL, score=48, trend_7d=-9.9, trend_30d=-25)
    assert playbooks_evaluate().created == 0
    _memory(owned, band=Band.NEUTRAL, score=48, trend_7d=-12.2, trend_30d=-25)
    playbooks_evaluate()
    assert Task.objects.get().reason == "Memory score fell 12 points in 7 days, to 48."


def test_a_complaint_waiting_past_its_limit_asks_for_recovery_and_a_recovery_closes_it(owned: Customer) -> None:
    _only(TriggerKind.COMPLAINT_UNRECOVERED, wait_hours=24, sla_hours=8)
    now = timezone.now()
    complaint = record(owned, at=now - timedelta(hours=30), channel="complaint", valence=-2, summary="Invoice wrong")
    record(CustomerFactory.create(), at=now - timedelta(hours=2), channel="complaint", valence=-2)  # within limit
    playbooks_evaluate(now=now)
    task = Task.objects.get()
    assert task.customer == owned
    assert "waited 30 hours" in task.reason
    assert "Invoice wrong" in task.reason
    record(owned, at=now, channel="call", valence=2, resolves=complaint)
    playbooks_evaluate(now=now + timedelta(minutes=1))
    task.refresh_from_db()
    assert task.close_reason == CloseReason.RESOLVED_ITSELF


def test_a_journey_that_ended_badly_is_an_event_asked_about_once(owned: Customer) -> None:
    _only(TriggerKind.JOURNEY_ENDED_BADLY, window_days=7, cooldown_days=0)
    now = timezone.now()
    bad = record(owned, at=now - timedelta(days=3), channel="visit", valence=-1)
    Journey.objects.filter(pk=bad.journey_id).update(
        closed_at=now - timedelta(days=1), close_reason="quiet_gap", end_interaction=bad
    )
    playbooks_evaluate(now=now)
    task = Task.objects.get()
    assert task.subject_key == f"journey:{bad.journey_id}"
    assert "ended on a bad visit" in task.reason
    task_close(task=task, actor=None, reason=CloseReason.ACTED)
    # The same ending never makes a second task, cool-down or not.
    assert playbooks_evaluate(now=now + timedelta(hours=1)).created == 0


def test_a_negative_last_touch_with_nothing_after_it_asks_to_end_on_a_high(owned: Customer) -> None:
    _only(TriggerKind.NEGATIVE_LAST_TOUCH, wait_hours=24, window_days=7)
    now = timezone.now()
    record(owned, at=now - timedelta(hours=20), channel="chat", valence=-1)
    assert playbooks_evaluate(now=now).created == 0  # not yet a day
    assert playbooks_evaluate(now=now + timedelta(hours=5)).created == 1
    record(owned, at=now + timedelta(hours=6), channel="call", valence=1)
    assert playbooks_evaluate(now=now + timedelta(hours=7)).resolved == 1


@pytest.mark.parametrize(
    ("kind", "scale", "rating", "fires"),
    [
        (TriggerKind.DETRACTOR, "nps", 6, True),
        (TriggerKind.DETRACTOR, "nps", 7, False),
        (TriggerKind.DETRACTOR, "csat", 2, True),
        (TriggerKind.PROMOTER, "nps", 9, True),
        (TriggerKind.PROMOTER, "csat", 4, False),
    ],
)
def test_survey_answers_fire_the_detractor_and_promoter_plays(
    owned: Customer, kind: TriggerKind, scale: str, rating: int, fires: bool
) -> None:
    _only(kind, window_days=7)
    answer = record(owned, at=timezone.now() - timedelta(days=1), channel="survey", valence=0,
                    rating=rating, rating_scale=scale)  # fmt: skip
    assert playbooks_evaluate().created == int(fires)
    if fires:
        assert Task.objects.get().subject_key == f"interaction:{answer.pk}"


def test_conditions_narrow_a_trigger(owner: User) -> None:
    segment = SegmentFactory.create(name="Enterprise")
    _only(TriggerKind.AT_RISK, segment=segment, owner=owner, max_score=35)
    matching = CustomerFactory.create(segment=segment, owner=owner)
    others = [
        CustomerFactory.create(owner=owner),  # another segment
        CustomerFactory.create(segment=segment),  # another owner
        CustomerFactory.create(segment=segment, owner=owner),  # score above the limit
        CustomerFactory.create(segment=segment, owner=owner, churned_at=timezone.now()),  # churned
    ]
    _memory(matching, score=20)
    for customer, score in zip(others, (20, 20, 38, 20), strict=True):
        _memory(customer, score=score)
    playbooks_evaluate()
    assert list(Task.objects.values_list("customer_id", flat=True)) == [matching.pk]


def test_a_channel_condition_applies_to_the_touchpoint_behind_the_trigger(owned: Customer) -> None:
    _only(TriggerKind.NEGATIVE_LAST_TOUCH, channel="email", wait_hours=1)
    record(owned, at=timezone.now() - timedelta(hours=3), channel="chat", valence=-2)
    assert playbooks_evaluate().created == 0
    record(CustomerFactory.create(), at=timezone.now() - timedelta(hours=3), channel="email", valence=-2)
    assert playbooks_evaluate().created == 1


def test_the_database_keeps_one_open_task_per_customer_and_playbook(owned: Customer) -> None:
    playbook = _only(TriggerKind.AT_RISK)
    fields = {"playbook": playbook, "customer": owned, "reason": "r", "due_at": timezone.now()}
    Task.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.create(**fields)
    Task.objects.update(status=TaskStatus.CLOSED, closed_at=timezone.now(), close_reason=CloseReason.ACTED)
    Task.objects.create(**fields)  # a closed one does not count


@pytest.mark.django_db(transaction=True)
def test_evaluations_racing_each_other_create_one_task(owner: User) -> None:
    _only(TriggerKind.AT_RISK)
    customer = CustomerFactory.create(owner=owner)
    _memory(customer)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def evaluate() -> None:
        from django.db import connection

        try:
            barrier.wait()
            playbooks_evaluate()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Task.objects.filter(customer=customer).count() == 1


def test_a_new_task_is_announced_to_webhook_subscribers(owned: Customer) -> None:
    WebhookSubscription.objects.create(name="crm", url="https://crm.example/hook", events=["task.created"])
    _only(TriggerKind.AT_RISK)
    _memory(owned)
    playbooks_evaluate()
    delivery = WebhookDelivery.objects.get()
    task = Task.objects.get()
    assert delivery.event_key == f"task:{task.pk}:created"
    assert delivery.payload["task"]["customer_ref"] == owned.ref
    assert delivery.payload["task"]["assignee"] == "olivia"


# -- working a task --------------------------------------------------------------------------


@pytest.fixture
def task(owned: Customer) -> Task:
    _only(TriggerKind.AT_RISK, sla_hours=24)
    _memory(owned)
    playbooks_evaluate()
    return Task.objects.get()


def test_closing_a_task_records_who_and_how_and_a_closed_task_stays_closed(task: Task, owner: User) -> None:
    closed = task_close(task=task, actor=owner, reason=CloseReason.COULD_NOT_REACH, note="Voicemail twice")
    assert (closed.status, closed.closed_by, closed.close_note) == (TaskStatus.CLOSED, owner, "Voicemail twice")
    with pytest.raises(ValidationError, match="already closed"):
        task_close(task=task, actor=owner, reason=CloseReason.ACTED)
    with pytest.raises(ValidationError, match="Choose one of"):
        task_close(task=Task.objects.get(pk=task.pk), actor=owner, reason=CloseReason.RESOLVED_ITSELF)


def test_a_task_closed_with_a_touchpoint_of_another_customer_is_refused(task: Task, owner: User) -> None:
    elsewhere = record(CustomerFactory.create())
    with pytest.raises(ValidationError, match="another customer"):
        task_close(task=task, actor=owner, reason=CloseReason.ACTED, interaction=elsewhere)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN


def test_snoozing_hides_a_task_until_it_wakes_and_keeps_its_due_time(task: Task, owner: User) -> None:
    due = task.due_at
    with pytest.raises(ValidationError, match="at most 14 days"):
        task_snooze(task=task, actor=owner, until=timezone.now() + timedelta(days=15))
    with pytest.raises(ValidationError, match="future"):
        task_snooze(task=task, actor=owner, until=timezone.now() - timedelta(minutes=1))
    snoozed = task_snooze(task=task, actor=owner, until=timezone.now() + timedelta(hours=4))
    assert (snoozed.status, snoozed.due_at) == (TaskStatus.SNOOZED, due)
    assert tasks_follow_up(now=timezone.now() + timedelta(hours=3)).woken == 0
    assert tasks_follow_up(now=timezone.now() + timedelta(hours=5)).woken == 1
    assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN


def test_reassigning_goes_only_to_active_people_with_a_role_and_emails_them_again(task: Task, owner: User) -> None:
    Task.objects.filter(pk=task.pk).update(email_status=EmailStatus.SENT)
    with pytest.raises(ValidationError, match="active person"):
        task_reassign(task=task, actor=owner, assignee=UserFactory.create())  # no role
    colleague = UserFactory.create(roles=[SUPPORT_STAFF])
    moved = task_reassign(task=task, actor=owner, assignee=colleague)
    assert (moved.assignee, moved.email_status) == (colleague, EmailStatus.PENDING)


def test_overdue_tasks_are_announced_once_and_escalate_to_the_managers_after_as_long_again(
    task: Task, owner: User
) -> None:
    boss = UserFactory.create(username="bea", email="bea@example.com", roles=[MANAGERS])
    set_manager(user=owner, manager=boss)
    WebhookSubscription.objects.create(name="crm", url="https://crm.example/hook", events=["task.overdue"])
    an_hour_late = task.due_at + timedelta(hours=1)
    first = tasks_follow_up(now=an_hour_late)
    assert (first.overdue, first.escalated) == (1, [])
    assert tasks_follow_up(now=an_hour_late).overdue == 0  # announced once
    assert WebhookDelivery.objects.filter(event="task.overdue").count() == 1
    late_by_the_sla = task.due_at + (task.due_at - task.created_at)
    assert tasks_follow_up(now=late_by_the_sla).escalated == [task.pk]
    escalated = Task.objects.get(pk=task.pk)
    assert escalated.escalated_to == boss
    assert escalated.escalated_at == late_by_the_sla


# -- who sees what ------------------------------------------------------------------------------


def test_staff_see_their_own_tasks_managers_their_teams_and_administrators_all(
    task: Task, owner: User, manager: User, administrator: User, staff_member: User
) -> None:
    assert list(visible_tasks(owner)) == [task]
    assert list(visible_tasks(staff_member)) == []
    assert list(visible_tasks(manager)) == []  # not their team
    set_manager(user=owner, manager=manager)
    assert list(visible_tasks(manager)) == [task]
    assert list(visible_tasks(administrator)) == [task]


def test_a_task_someone_may_not_see_is_not_found_and_cannot_be_worked(
    client: Client, task: Task, staff_member: User
) -> None:
    client.force_login(staff_member)
    assert client.get(f"/tasks/{task.pk}/").status_code == 404
    assert client.post(f"/tasks/{task.pk}/close/", {"reason": "acted"}).status_code == 404
    assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN


def test_logging_the_follow_up_from_the_task_stores_the_touchpoint_and_closes_the_task(
    client: Client, task: Task, owner: User
) -> None:
    client.force_login(owner)
    page = client.get(f"/tasks/{task.pk}/log/")
    assert page.status_code == 200
    form = {
        "customer": "ignored: the task names the customer",
        "channel": "call",
        "valence": "2",
        "direction": "outbound",
        "summary": "Called back, fixed the invoice",
        "key": "0b5f8b5e-0000-4000-8000-000000000001",
    }
    response = client.post(f"/tasks/{task.pk}/log/", form)
    assert response.status_code == 302
    done = Task.objects.get(pk=task.pk)
    touch = Interaction.objects.get(source="web")
    assert (done.status, done.close_reason, done.interaction, touch.customer_id) == (
        TaskStatus.CLOSED,
        CloseReason.ACTED,
        touch,
        task.customer_id,
    )
    # A second submit of the same form (a double click) adds nothing and closes nothing twice.
    assert client.post(f"/tasks/{task.pk}/log/", form).status_code == 302
    assert Interaction.objects.filter(source="web").count() == 1


def test_my_work_lists_open_tasks_overdue_first_with_the_count_in_the_header(
    client: Client, owner: User, owned: Customer
) -> None:
    _only(TriggerKind.AT_RISK, sla_hours=24)
    later = CustomerFactory.create(owner=owner, name="Later Ltd")
    _memory(owned)
    _memory(later)
    playbooks_evaluate()
    Task.objects.filter(customer=owned).update(due_at=timezone.now() - timedelta(hours=1))
    client.force_login(owner)
    html = client.get("/work/").content.decode()
    assert 'aria-label="2 open tasks"' in html
    assert html.index(owned.name) < html.index("Later Ltd")
    assert "overdue" in html


def test_changing_a_playbook_is_audited_and_checked(client: Client, manager: User) -> None:
    playbook = Playbook.objects.get(kind=TriggerKind.SCORE_DROP)
    client.force_login(manager)
    form = client.get(f"/playbooks/{playbook.pk}/").context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update({"window_days": 10, "enabled": "on", "send_email": "on"})
    refused = client.post(f"/playbooks/{playbook.pk}/", data)
    assert refused.status_code == 400
    assert "7 or 30 days" in refused.content.decode()
    data.update({"window_days": 30, "drop_points": 15})
    assert client.post(f"/playbooks/{playbook.pk}/", data).status_code == 302
    entry = AuditEntry.objects.get(object_type="playbooks.Playbook")
    assert entry.actor == manager
    assert entry.changes["drop_points"] == [10, 15]
    assert entry.changes["window_days"] == [7, 30]


def test_support_staff_cannot_change_playbooks(client: Client, staff_member: User) -> None:
    client.force_login(staff_member)
    playbook = Playbook.objects.first()
    assert playbook is not None
    assert client.get("/playbooks/").status_code == 403
    assert client.post(f"/playbooks/{playbook.pk}/", {"name": "x"}).status_code == 403


# -- when the evaluation runs ----------------------------------------------------------------------


def test_a_stored_score_notes_the_customer_and_one_evaluation_takes_every_note(
    owned: Customer, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    """docs/playbooks.md, "When triggers are evaluated": a new score is noted with the
    memory, and the evaluation drains the notes (here in-process, as without a broker)."""
    _only(TriggerKind.AT_RISK)
    with django_capture_on_commit_callbacks(execute=True):
        record(owned, at=timezone.now(), channel="complaint", valence=-2, intensity=5, refresh_memory=True)
    assert CustomerMemory.objects.get(customer=owned).band == Band.AT_RISK
    assert Task.objects.get().customer == owned
    assert not PendingEvaluation.objects.exists()


def test_an_evaluation_soon_after_another_waits_and_takes_every_note(
    owned: Customer, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """As a worker runs it: under a stream of scores the evaluation starts at most once per
    PLAYBOOKS_GATHER_SECONDS (config/tasking.gather), holding the queued mark meanwhile."""
    settings.PLAYBOOKS_GATHER_SECONDS = 2
    waits: list[float] = []
    monkeypatch.setattr("config.tasking.time.sleep", waits.append)
    _only(TriggerKind.AT_RISK)
    others = [CustomerFactory.create() for _ in range(2)]
    for customer in [owned, *others]:
        _memory(customer)
    evaluations_pend([owned.pk, *(o.pk for o in others)])
    cache.set(EVALUATION_STARTED, time.time())
    cache.set(EVALUATION_QUEUED, 1)
    assert evaluate_pending_playbooks.run() == 3
    [wait] = waits
    assert 1.5 < wait <= 2
    assert cache.get(EVALUATION_QUEUED) is None
    assert not PendingEvaluation.objects.exists()


def test_notes_whose_evaluation_was_lost_are_taken_by_the_five_minute_pass(owned: Customer) -> None:
    _only(TriggerKind.AT_RISK)
    others = [CustomerFactory.create() for _ in range(3)]
    for customer in [owned, *others]:
        _memory(customer)
    with transaction.atomic():
        evaluations_pend([owned.pk, others[0].pk, owned.pk])  # a repeat is one note
    assert PendingEvaluation.objects.count() == 2
    assert pending_evaluations_run().created == 2  # only the noted customers
    assert not PendingEvaluation.objects.exists()
    evaluations_pend([others[1].pk])  # ...and its task never reached a worker
    assert evaluate_all_playbooks.apply().get() == 2  # the noted one, then the one left
    assert not PendingEvaluation.objects.exists()
    assert Task.objects.count() == 4
    gone = CustomerFactory.create()
    evaluations_pend([gone.pk])
    gone.delete()  # a note is an id, not a foreign key: it stays, finds nothing, and goes
    assert pending_evaluations_run().created == 0
    assert not PendingEvaluation.objects.exists()


def test_a_stream_of_notes_does_not_keep_one_drain_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scores keep arriving while the drain works: it stops at a short batch and leaves the
    newest notes to the task their arrival queued."""
    customers = [CustomerFactory.create() for _ in range(12)]
    monkeypatch.setattr("playbooks.services.BATCH", 2)
    evaluations_pend([customers[0].pk, customers[1].pk])
    arriving = iter(customers[2:])
    evaluated: list[list[int]] = []

    def evaluate_while_a_score_arrives(*, customer_ids: list[int], now: Any) -> Any:
        evaluated.append(customer_ids)
        evaluations_pend([next(arriving).pk])  # StopIteration here would mean it never stops
        return Evaluation()

    monkeypatch.setattr("playbooks.services.playbooks_evaluate", evaluate_while_a_score_arrives)
    pending_evaluations_run()
    assert evaluated == [[customers[0].pk, customers[1].pk], [customers[2].pk]]
    assert list(PendingEvaluation.objects.values_list("customer_id", flat=True)) == [customers[3].pk]


def test_a_failed_evaluation_keeps_its_notes(owned: Customer, monkeypatch: pytest.MonkeyPatch) -> None:
    _only(TriggerKind.AT_RISK)
    _memory(owned)
    evaluations_pend([owned.pk])

    def broken(**_: Any) -> None:
        raise RuntimeError("the database went away mid-evaluation")

    monkeypatch.setattr("playbooks.services.playbooks_evaluate", broken)
    with pytest.raises(RuntimeError):
        pending_evaluations_run()
    assert list(PendingEvaluation.objects.values_list("customer_id", flat=True)) == [owned.pk]


# -- e-mail through a real SMTP server -------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on a port it bound itself (port 0, read back)."""
    inbox = Inbox()
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(lambda: SMTP(inbox), host="127.0.0.1", port=0))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield inbox, port
    loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port bound but not listening: a connection to it is refused, as by a mail server that is down."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def _smtp(settings: Any, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5


def test_the_assignee_receives_the_task_by_email(task: Task, smtp_server: tuple[Inbox, int], settings: Any) -> None:
    inbox, port = smtp_server
    _smtp(settings, port)
    assert task_email_send(task_id=task.pk) is True
    [message] = inbox.messages
    body = message.content.decode()  # type: ignore[union-attr]
    assert message.rcpt_tos == ["olivia@example.com"]
    assert "At risk: call them" in body
    assert task.customer.name in body
    assert f"/tasks/{task.pk}/" in body
    assert Task.objects.get(pk=task.pk).email_status == EmailStatus.SENT
    assert task_email_send(task_id=task.pk) is True
    assert len(inbox.messages) == 1


def test_a_mail_server_that_is_down_loses_nothing_and_the_retry_delivers(
    task: Task, refusing_port: int, smtp_server: tuple[Inbox, int], settings: Any
) -> None:
    _smtp(settings, refusing_port)
    assert task_email_send(task_id=task.pk) is False
    waiting = Task.objects.get(pk=task.pk)
    assert (waiting.status, waiting.email_status, waiting.email_attempts) == (TaskStatus.OPEN, EmailStatus.PENDING, 1)
    assert "ConnectionRefusedError" in waiting.email_error
    # The periodic follow-up finds it again, even if the retry queued on failure was lost.
    assert task.pk in tasks_follow_up(now=timezone.now() + timedelta(minutes=11)).emails
    inbox, port = smtp_server
    _smtp(settings, port)
    assert task_email_send(task_id=task.pk) is True
    sent = Task.objects.get(pk=task.pk)
    assert (sent.email_status, sent.email_attempts, sent.email_error) == (EmailStatus.SENT, 2, "")
    assert len(inbox.messages) == 1


def test_a_mail_outage_never_fails_the_evaluation_that_created_the_task(
    owned: Customer, refusing_port: int, settings: Any,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:  # fmt: skip
    _smtp(settings, refusing_port)
    _only(TriggerKind.AT_RISK)
    _memory(owned)
    with django_capture_on_commit_callbacks(execute=True):
        assert evaluate_all_playbooks.apply().get() == 1
    task = Task.objects.get()
    assert task.email_status == EmailStatus.PENDING
    assert task.email_attempts >= 1


# -- did it help? ---------------------------------------------------------------------------------


def test_the_effect_report_compares_acting_in_time_late_and_not_at_all(owner: User) -> None:
    playbook = _only(TriggerKind.AT_RISK)
    now = timezone.now()
    created = now - timedelta(days=40)

    def task_for(score_after: float, *, closed_after: timedelta | None, reason: str = CloseReason.ACTED) -> None:
        customer = CustomerFactory.create(owner=owner)
        closed = (
            {"status": "closed", "closed_at": created + closed_after, "close_reason": reason} if closed_after else {}
        )
        Task.objects.create(playbook=playbook, customer=customer, reason="r", due_at=created + timedelta(hours=24),
                            created_at=created, score_at_open=30.0, **closed)  # fmt: skip
        ScoreSnapshot.objects.create(customer=customer, day=(created + timedelta(days=29)).date(),
                                     score=score_after, band="neutral", value=0)  # fmt: skip
        # A snapshot after the window must not count.
        ScoreSnapshot.objects.create(customer=customer, day=(created + timedelta(days=35)).date(),
                                     score=99, band="good", value=0)  # fmt: skip
        if score_after < 30:
            Outcome.objects.create(customer=customer, kind="churned", occurred_at=created + timedelta(days=60),
                                   source="t", external_id=f"o-{customer.pk}")  # fmt: skip

    task_for(40, closed_after=timedelta(hours=3))
    task_for(44, closed_after=timedelta(hours=10))
    task_for(31, closed_after=timedelta(hours=50))  # late
    task_for(25, closed_after=None)  # still open: not done
    task_for(27, closed_after=timedelta(hours=2), reason=CloseReason.COULD_NOT_REACH)  # not done
    [effect] = [e for e in effect_report(now) if e.playbook == playbook]
    in_time, late, not_done = effect.groups
    assert (in_time.score_change.n, in_time.score_change.mean) == (2, pytest.approx(12.0))
    assert in_time.score_change.low == pytest.approx(12 - 1.96 * (8**0.5) / (2**0.5))
    assert (late.score_change.n, late.score_change.mean, late.score_change.low) == (1, pytest.approx(1.0), None)
    assert (not_done.score_change.n, not_done.score_change.mean) == (2, pytest.approx(-4.0))
    assert (not_done.with_outcome, not_done.churned, in_time.with_outcome) == (2, 2, 0)


def test_summaries_need_two_values_for_an_interval() -> None:
    assert summarise([]).n == 0
    assert summarise([]).mean is None
    assert summarise([3.0]).low is None
    both = summarise([1.0, 3.0])
    assert (both.mean, both.low, both.high) == (2.0, pytest.approx(2 - 1.96), pytest.approx(2 + 1.96))


# -- the API ----------------------------------------------------------------------------------


def _api(key_scope: str | None = None, user: User | None = None) -> APIClient:
    client = APIClient()
    if key_scope is not None:
        _, key = APIKey.objects.create_key(name=f"k-{key_scope}", scope=key_scope)
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    if user is not None:
        client.force_login(user)
    return client


def test_the_api_lists_tasks_with_filters_for_keys_and_only_visible_ones_for_people(
    task: Task, owner: User, staff_member: User
) -> None:
    everyone = _api("read").get("/api/v1/tasks/?status=open&assignee=olivia&overdue=false").json()
    assert [t["id"] for t in everyone["results"]] == [task.pk]
    assert everyone["results"][0]["customer_ref"] == task.customer.ref
    assert everyone["results"][0]["trigger"] == "at_risk"
    assert _api("read").get("/api/v1/tasks/?overdue=true").json()["results"] == []
    assert _api("read").get("/api/v1/tasks/?overdue=maybe").status_code == 400
    assert [t["id"] for t in _api(user=owner).get("/api/v1/tasks/").json()["results"]] == [task.pk]
    assert _api(user=staff_member).get("/api/v1/tasks/").json()["results"] == []
    assert _api(user=staff_member).get(f"/api/v1/tasks/{task.pk}/").status_code == 404
    assert _api("push").get("/api/v1/tasks/").status_code == 403


def test_the_api_completes_snoozes_and_reassigns_with_a_full_key(task: Task) -> None:
    url = f"/api/v1/tasks/{task.pk}"
    assert _api("read").post(f"{url}/complete/", {"reason": "acted"}, format="json").status_code == 403
    full = _api("full")
    bad = full.post(f"{url}/snooze/", {"until": "2020-01-01T00:00:00Z"}, format="json")
    assert bad.status_code == 400
    assert "until" in bad.json()
    snoozed = full.post(f"{url}/snooze/", {"until": (timezone.now() + timedelta(days=1)).isoformat()}, format="json")
    assert snoozed.json()["status"] == "snoozed"
    colleague = UserFactory.create(username="cole", roles=[SUPPORT_STAFF])
    assert full.post(f"{url}/reassign/", {"assignee": "nobody"}, format="json").status_code == 400
    assert full.post(f"{url}/reassign/", {"assignee": "cole"}, format="json").json()["assignee"] == "cole"
    assert full.post(f"{url}/complete/", {"reason": "resolved_itself"}, format="json").status_code == 400
    done = full.post(f"{url}/complete/", {"reason": "no_action_needed", "note": "Paid"}, format="json").json()
    assert (done["status"], done["close_reason"], done["close_note"]) == ("closed", "no_action_needed", "Paid")
    again = full.post(f"{url}/complete/", {"reason": "acted"}, format="json")
    assert again.status_code == 400
    assert "already closed" in json.dumps(again.json())
    assert Task.objects.get(pk=task.pk).assignee == colleague


def test_people_work_tasks_through_the_api_only_within_what_they_see(task: Task, owner: User) -> None:
    stranger = UserFactory.create(roles=[SUPPORT_STAFF])
    url = f"/api/v1/tasks/{task.pk}/complete/"
    assert _api(user=stranger).post(url, {"reason": "acted"}, format="json").status_code == 404
    assert _api(user=owner).post(url, {"reason": "acted"}, format="json").status_code == 200
    assert Task.objects.get(pk=task.pk).closed_by == owner


def test_a_customer_name_with_a_line_break_cannot_inject_mail_headers(owner: User) -> None:
    customer = CustomerFactory.create(owner=owner, name="Evil Ltd\nBcc: victim@example.com")
    _only(TriggerKind.AT_RISK)
    _memory(customer)
    result = playbooks_evaluate()
    assert task_email_send(task_id=result.emails[0]) is True
    [message] = mail.outbox
    assert message.subject == "[Rememberly] At risk: call them: Evil Ltd Bcc: victim@example.com"
    assert message.bcc == []
    assert message.to == ["olivia@example.com"]
