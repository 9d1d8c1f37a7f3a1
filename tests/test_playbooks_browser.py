"""Playbooks in a real browser: a manager configures one, the owner receives the task, works
it by logging the follow-up, and the task closes (Playwright driving Debian's Chromium)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.roles import MANAGERS, SUPPORT_STAFF
from accounts.teams import set_manager
from memory.services import memory_refresh
from playbooks.models import CloseReason, Playbook, Task, TaskStatus, TriggerKind
from playbooks.services import playbooks_evaluate
from tests.browser import ARTIFACTS, log_in, needs_chromium
from tests.factories import CustomerFactory, UserFactory, record

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def test_configure_receive_work_and_close_a_follow_up(page: Page, live_server: object) -> None:
    base = str(live_server)
    manager = UserFactory.create(username="maya", first_name="Maya", roles=[MANAGERS])
    staff = UserFactory.create(username="sam", first_name="Sam", roles=[SUPPORT_STAFF])
    set_manager(user=staff, manager=manager)
    customer = CustomerFactory.create(name="Northwind Traders", ref="NORTHWIND", owner=staff)
    complaint = record(customer, at=timezone.now() - timedelta(hours=3), channel="complaint", valence=-2,
                       summary="Invoice charged twice")  # fmt: skip
    memory_refresh(customer_id=customer.pk)
    ARTIFACTS.mkdir(exist_ok=True)

    # Configure: the manager tightens the complaint playbook to one hour.
    log_in(page, base, manager)
    page.goto(f"{base}/playbooks/")
    page.get_by_role("link", name="Complaint waiting for recovery").click()
    page.get_by_label("Wait (hours)").fill("1")
    page.get_by_label("Due within (hours)").fill("4")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("saved")
    page.screenshot(path=ARTIFACTS / "playbooks.png", full_page=True)
    assert Playbook.objects.get(kind=TriggerKind.COMPLAINT_UNRECOVERED).wait_hours == 1

    # Receive: the background evaluation (run here directly) asks the owner to act.
    playbooks_evaluate()
    task = Task.objects.get(playbook__kind=TriggerKind.COMPLAINT_UNRECOVERED)
    page.context.clear_cookies()
    log_in(page, base, staff)
    page.goto(f"{base}/")
    expect(page.get_by_role("link", name="My work")).to_contain_text(str(Task.objects.filter(assignee=staff).count()))
    page.get_by_role("link", name="My work").click()
    page.screenshot(path=ARTIFACTS / "my-work.png", full_page=True)
    page.get_by_role("link", name="Northwind Traders").first.click()
    expect(page.get_by_text("Invoice charged twice")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "task.png", full_page=True)

    # Work and close: logging the recovery from the task closes it, linked.
    page.goto(f"{base}/tasks/{task.pk}/")
    page.get_by_role("link", name="Log the follow-up touchpoint").click()
    page.get_by_label("Channel", exact=True).select_option("call")
    page.get_by_label("Very good").check()
    page.get_by_label("Resolves complaint").select_option(str(complaint.pk))
    page.get_by_label("What happened").fill("Refund issued, apology from the owner")
    page.get_by_role("button", name="Save touchpoint").click()
    expect(page.get_by_role("status")).to_contain_text("the task is done")
    page.screenshot(path=ARTIFACTS / "my-work-after.png", full_page=True)
    done = Task.objects.get(pk=task.pk)
    assert (done.status, done.close_reason) == (TaskStatus.CLOSED, CloseReason.ACTED)
    assert done.interaction is not None
    assert done.interaction.resolves_id == complaint.pk

    # The manager sees the team's tasks, the closed one among them (and, once the recovery
    # lifted the score, the at-risk task resolved by itself, if the score had been at risk).
    page.context.clear_cookies()
    log_in(page, base, manager)
    page.goto(f"{base}/tasks/?state=closed")
    expect(page.get_by_role("row").filter(has_text="Done: we acted")).to_contain_text("Northwind Traders")
    page.screenshot(path=ARTIFACTS / "team-tasks.png", full_page=True)


def test_snooze_and_close_from_the_task_page(page: Page, live_server: object) -> None:
    base = str(live_server)
    staff = UserFactory.create(username="priya", first_name="Priya", roles=[SUPPORT_STAFF])
    first, second = (CustomerFactory.create(owner=staff) for _ in range(2))
    for customer in (first, second):
        record(customer, at=timezone.now() - timedelta(hours=30), channel="chat", valence=-2)
    Playbook.objects.exclude(kind=TriggerKind.NEGATIVE_LAST_TOUCH).update(enabled=False)
    playbooks_evaluate()
    snoozing, closing = (Task.objects.get(customer=c) for c in (first, second))
    log_in(page, base, staff)
    page.goto(f"{base}/tasks/{snoozing.pk}/")
    page.get_by_label("Snooze for").select_option("24")
    page.get_by_role("button", name="Snooze").click()
    expect(page.get_by_role("status")).to_contain_text("Snoozed until")
    page.goto(f"{base}/tasks/{closing.pk}/")
    page.get_by_label("Outcome").select_option("could_not_reach")
    page.get_by_label("Note").fill("Voicemail twice")
    page.get_by_role("button", name="Close the task").click()
    expect(page.get_by_role("status")).to_contain_text("Task closed")
    expect(page.get_by_role("heading", name="Snoozed (1)")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "my-work-snoozed.png", full_page=True)
    assert Task.objects.get(pk=snoozing.pk).status == TaskStatus.SNOOZED
    assert Task.objects.get(pk=closing.pk).close_reason == CloseReason.COULD_NOT_REACH
