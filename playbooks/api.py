"""REST API v1 for follow-up tasks: list and read them (read or full keys, or people within
what they may see), and work them: complete, snooze, reassign (full keys, or people)."""

from typing import Any

import django_filters
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from config.rest.fields import AwareDateTimeField
from config.rest.filters import TrueFalseFilter, is_true
from config.rest.pagination import ID_PATTERN, ById
from integrations.models import APIKey
from playbooks.access import visible_tasks
from playbooks.models import CLOSED_BY_PEOPLE, Task, TaskStatus
from playbooks.services import task_close, task_reassign, task_snooze
from playbooks.tasks import queue_emails


class TaskSerializer(serializers.ModelSerializer):
    playbook_name = serializers.CharField(source="playbook.name", read_only=True)
    trigger = serializers.CharField(source="playbook.kind", read_only=True)
    customer_ref = serializers.CharField(source="customer.ref", read_only=True)
    assignee: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    close_reason = serializers.CharField(read_only=True, help_text='"" while open.')
    interaction: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The touchpoint logged to do it."
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "playbook",
            "playbook_name",
            "trigger",
            "customer",
            "customer_ref",
            "reason",
            "suggestion",
            "assignee",
            "status",
            "created_at",
            "due_at",
            "snoozed_until",
            "escalated_at",
            "closed_at",
            "close_reason",
            "close_note",
            "interaction",
            "score_at_open",
            "email_status",
        ]
        read_only_fields = fields


class TaskFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id")
    customer_ref = django_filters.CharFilter(field_name="customer__ref")
    assignee = django_filters.CharFilter(field_name="assignee__username")
    overdue = TrueFalseFilter(method="filter_overdue", label="Open and past its due time")

    def filter_overdue(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        late = {"status": TaskStatus.OPEN, "due_at__lt": timezone.now()}
        return queryset.filter(**late) if is_true(value) else queryset.exclude(**late)

    class Meta:
        model = Task
        fields = ["customer", "customer_ref", "assignee", "status", "playbook", "overdue"]


class CompleteSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=CLOSED_BY_PEOPLE, help_text="What came of it.")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SnoozeSerializer(serializers.Serializer):
    until = AwareDateTimeField(help_text="In the future, at most 14 days ahead. The due time does not move.")


class ReassignSerializer(serializers.Serializer):
    assignee = serializers.CharField(max_length=150, help_text="Username of an active person with a role.")

    def validate_assignee(self, value: str) -> User:
        user = User.objects.filter(username=value, is_active=True).first()
        if user is None:
            raise serializers.ValidationError("No active person has this username.")
        return user


@extend_schema(tags=["tasks"])
class TaskViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = ID_PATTERN
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    pagination_class = ById
    read_permission = "playbooks.view_task"
    write_permission = "playbooks.change_task"

    def get_queryset(self) -> QuerySet[Task]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no caller
            return Task.objects.none()
        tasks = Task.objects.all() if isinstance(self.request.auth, APIKey) else visible_tasks(self.request.user)
        return tasks.select_related("playbook", "customer", "assignee")

    def _answer(self, task: Task) -> Response:
        return Response(TaskSerializer(self.get_queryset().get(pk=task.pk)).data)

    def _parsed(self, serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
        parsed = serializer_class(data=request.data)
        parsed.is_valid(raise_exception=True)
        return dict(parsed.validated_data)

    @extend_schema(request=CompleteSerializer, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        """Close the task with what came of it (400 if it is closed already)."""
        data = self._parsed(CompleteSerializer, request)
        return self._answer(task_close(task=self.get_object(), actor=request.user, **data))

    @extend_schema(request=SnoozeSerializer, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def snooze(self, request: Request, pk: str) -> Response:
        data = self._parsed(SnoozeSerializer, request)
        return self._answer(task_snooze(task=self.get_object(), actor=request.user, until=data["until"]))

    @extend_schema(request=ReassignSerializer, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, pk: str) -> Response:
        """Give the task to someone else; they are e-mailed."""
        data = self._parsed(ReassignSerializer, request)
        with transaction.atomic():
            task = task_reassign(task=self.get_object(), actor=request.user, assignee=data["assignee"])
            queue_emails([task.pk])
        return self._answer(task)
