from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q


class Channel(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "E-mail"
    VISIT = "visit", "Visit"
    COMPLAINT = "complaint", "Complaint"
    MEETING = "meeting", "Meeting"
    CHAT = "chat", "Chat"
    SOCIAL = "social", "Social post"
    EVENT = "event", "Event"
    NEWSLETTER = "newsletter", "Newsletter"
    SUPPORT_TICKET = "support_ticket", "Support ticket"
    ACCOUNT_REVIEW = "account_review", "Account review"
    SURVEY = "survey", "Survey"


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound (proactive)"


class Valence(models.IntegerChoices):
    VERY_BAD = -2, "Very bad"
    BAD = -1, "Bad"
    NEUTRAL = 0, "Neutral"
    GOOD = 1, "Good"
    VERY_GOOD = 2, "Very good"


class RatingScale(models.TextChoices):
    CSAT = "csat", "CSAT (1-5)"
    NPS = "nps", "NPS (0-10)"


RATING_RANGES = {RatingScale.CSAT: (1, 5), RatingScale.NPS: (0, 10)}
MIN_INTENSITY, MAX_INTENSITY = 1, 5
SUMMARY_MAX_LENGTH = 5000


class ChannelDefault(models.Model):
    """What a touchpoint on a channel defaults to: its journey stage and how vivid it is."""

    channel = models.CharField(max_length=32, choices=Channel.choices, unique=True)
    stage = models.ForeignKey("journeys.JourneyStage", on_delete=models.PROTECT, related_name="default_channels")
    intensity = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MIN_INTENSITY), MaxValueValidator(MAX_INTENSITY)]
    )

    class Meta:
        ordering = ["channel"]
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="channel_default_channel_valid"),
            models.CheckConstraint(
                condition=Q(intensity__gte=MIN_INTENSITY, intensity__lte=MAX_INTENSITY),
                name="channel_default_intensity_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.stage}, intensity {self.intensity}"


class Interaction(models.Model):
    """One touchpoint with a customer, as lived by their experiencing self."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="interactions")
    # RESTRICT: a journey is never deleted from under its touchpoints, except together with
    # its customer (whose deletion cascades to both, through customer_delete).
    journey = models.ForeignKey("journeys.Journey", on_delete=models.RESTRICT, related_name="interactions")
    channel = models.CharField(max_length=32, choices=Channel.choices)
    direction = models.CharField(max_length=16, choices=Direction.choices, default=Direction.INBOUND)
    occurred_at = models.DateTimeField()
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="interactions"
    )
    stage = models.ForeignKey("journeys.JourneyStage", on_delete=models.PROTECT, related_name="interactions")
    valence = models.SmallIntegerField(choices=Valence.choices, help_text="How it felt to the customer.")
    intensity = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MIN_INTENSITY), MaxValueValidator(MAX_INTENSITY)],
        help_text="How vivid it was, 1 (faint) to 5 (unforgettable).",
    )
    summary = models.TextField(blank=True, max_length=SUMMARY_MAX_LENGTH)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    rating_scale = models.CharField(max_length=8, choices=RatingScale.choices, blank=True)
    resolves = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resolutions",
        help_text="The complaint this interaction recovers.",
    )
    resolved_on_first_contact = models.BooleanField(default=False)
    source = models.CharField(max_length=50, help_text="System that sent it; with external_id, the idempotency key.")
    external_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="interaction_idempotency_key"),
            models.CheckConstraint(condition=Q(valence__gte=-2, valence__lte=2), name="interaction_valence_range"),
            models.CheckConstraint(
                condition=Q(intensity__gte=MIN_INTENSITY, intensity__lte=MAX_INTENSITY),
                name="interaction_intensity_range",
            ),
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="interaction_channel_valid"),
            models.CheckConstraint(condition=Q(direction__in=Direction.values), name="interaction_direction_valid"),
            models.CheckConstraint(condition=~Q(source="") & ~Q(external_id=""), name="interaction_key_not_blank"),
            models.CheckConstraint(
                condition=Q(rating__isnull=True, rating_scale="")
                | Q(rating_scale=RatingScale.CSAT, rating__gte=1, rating__lte=5)
                | Q(rating_scale=RatingScale.NPS, rating__gte=0, rating__lte=10),
                name="interaction_rating_on_its_scale",
            ),
            models.CheckConstraint(condition=~Q(resolves=F("id")), name="interaction_not_resolving_itself"),
        ]
        indexes = [
            # The customer timeline, and the memory engine's "what is new since id N".
            models.Index(fields=["customer", "occurred_at", "id"], name="interaction_timeline_idx"),
            models.Index(fields=["customer", "id"], name="interaction_customer_id_idx"),
            models.Index(fields=["journey", "occurred_at"], name="interaction_journey_idx"),
            models.Index(fields=["occurred_at"], name="interaction_occurred_idx"),
            models.Index(fields=["staff", "occurred_at"], name="interaction_staff_idx"),
            # The recovery queue reads complaints only: a small partial index.
            models.Index(fields=["occurred_at"], condition=Q(channel="complaint"), name="interaction_complaint_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} on {self.occurred_at:%Y-%m-%d} ({self.get_valence_display()})"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportKind(models.TextChoices):
    """What a file holds; each kind is run by its own app's task (touchpoints here,
    outcomes in outcomes.imports)."""

    TOUCHPOINTS = "touchpoints", "Touchpoints"
    OUTCOMES = "outcomes", "Outcomes"


class ImportJob(models.Model):
    """An uploaded file being imported in the background, with its progress and outcome.

    The file was read in full before the job was made (interactions.imports.read_rows),
    so a job never stops half-way over the file's format; `content` is that text, kept
    until the job is done."""

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    filename = models.CharField(max_length=255)
    kind = models.CharField(max_length=12, choices=ImportKind.choices, default=ImportKind.TOUCHPOINTS)
    status = models.CharField(max_length=8, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    content = models.TextField(blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first row errors: [row, field, reason].")
    problem = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ImportStatus.values), name="import_job_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=ImportKind.values), name="import_job_kind_valid"),
            models.CheckConstraint(condition=Q(rows_done__lte=F("rows_total")), name="import_job_progress_bounded"),
        ]

    def __str__(self) -> str:
        return f"import of {self.filename} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        return 100 if not self.rows_total else int(100 * self.rows_done / self.rows_total)

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)
