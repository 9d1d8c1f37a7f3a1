from django.conf import settings
from django.db import models
from django.db.models import F, Q


class StaffProfile(models.Model):
    """Who a person reports to: a manager sees the work of the people who report to them,
    and a follow-up task that runs late escalates to the assignee's manager."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="staff_profile"
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
        help_text="Sees this person's follow-up tasks and receives them when they run late.",
    )

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(manager=F("user")), name="staff_not_own_manager")]

    def __str__(self) -> str:
        return f"profile of user {self.user_id}"
