"""python manage.py seed_demo: a believable year of customer touchpoints for the demo."""

import random
import unicodedata
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from faker import Faker
from tqdm import tqdm

from accounts.roles import ADMINISTRATORS, MANAGERS, SUPPORT_STAFF
from customers.models import Customer, CustomerKind
from customers.services import customer_create, segment_get_or_create
from demo.playbooks import reporting_lines, task_history, todays_tasks
from demo.story import customer_story
from interactions.models import Interaction
from interactions.services import interaction_record
from memory.services import memory_backfill_history, memory_refresh
from outcomes.services import OutcomeIn, outcomes_record_many

DEMO_SOURCE = "demo"
SEGMENTS = {
    "Enterprise": "Large accounts with a named owner and quarterly reviews.",
    "Mid-market": "Growing companies; most of our support volume.",
    "Small business": "Self-serve customers who call when something breaks.",
    "Public sector": "Councils and agencies on framework contracts.",
}
# username, first, last, role, password, skill (how good this person is at leaving a
# good memory; drives the story, so the "memory makers" differ for a reason)
STAFF = [
    ("admin", "Ada", "Admin", ADMINISTRATORS, "rememberly-admin", 0.3),
    ("maya", "Maya", "Okafor", MANAGERS, "rememberly-demo", 0.6),
    ("tom", "Tom", "Lindqvist", MANAGERS, "rememberly-demo", 0.2),
    ("sam", "Sam", "Rivera", SUPPORT_STAFF, "rememberly-demo", 0.7),
    ("priya", "Priya", "Nair", SUPPORT_STAFF, "rememberly-demo", 0.5),
    ("jonas", "Jonas", "Berg", SUPPORT_STAFF, "rememberly-demo", 0.1),
    ("lena", "Lena", "Hofmann", SUPPORT_STAFF, "rememberly-demo", 0.4),
    ("kofi", "Kofi", "Mensah", SUPPORT_STAFF, "rememberly-demo", -0.1),
]


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


class Command(BaseCommand):
    help = "Create demo staff logins, customers and a year of touchpoints (idempotent for a given --seed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=300, help="How many customers (default 300).")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed: the same seed, the same data.")
        parser.add_argument("--days", type=int, default=365, help="How many days of history (default 365).")
        parser.add_argument(
            "--today", type=str, default=None, help="Last day of the history, YYYY-MM-DD (default: today)."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["customers"] < 1 or options["days"] < 30:
            raise CommandError("Use at least 1 customer and 30 days.")
        try:
            today = datetime.fromisoformat(options["today"]).date() if options["today"] else None
        except ValueError as exc:
            raise CommandError(f"--today must look like 2026-11-23: {exc}") from exc
        end = datetime.combine(today or datetime.now(UTC).date(), time(0), tzinfo=UTC)
        start = end - timedelta(days=options["days"])
        rng = random.Random(options["seed"])
        fake = Faker(["en_GB", "de_DE", "nl_NL"])
        fake.seed_instance(options["seed"])

        # A command has no request to keep quick: work that would go to background threads
        # without a broker runs inline instead, so it never competes with the seeding for
        # SQLite's single writer.
        settings.EMBEDDED_BACKGROUND_THREADS = False
        staff = self._staff()
        segments = [segment_get_or_create(name=name, description=text) for name, text in SEGMENTS.items()]
        skills = [skill for *_, skill in STAFF]
        show_progress = not options["no_progress"] and options["verbosity"] > 0
        created_touches = 0
        customer_ids: list[int] = []
        for number in tqdm(
            range(1, options["customers"] + 1), desc="customers", unit="cust", disable=not show_progress
        ):
            owner_index = rng.randrange(1, len(STAFF))
            story = customer_story(rng, start=start, end=end, staff_skills=skills, owner_index=owner_index)
            with transaction.atomic():
                customer = self._customer(number, rng, fake, segments, staff[owner_index], story.archetype)
                created_touches += self._record(customer, story, staff)
            customer_ids.append(customer.pk)

        for customer_id in tqdm(customer_ids, desc="memories", unit="cust", disable=not show_progress):
            # Weekly history first, so today's reading has trends to compare with.
            memory_backfill_history(customer_id=customer_id, start=start.date(), end=end.date())
            memory_refresh(customer_id=customer_id, as_of=end if today else None)

        reporting_lines()
        history = task_history(customer_ids, end)
        tasks_now = todays_tasks(end if today else timezone.now())
        total = Interaction.objects.filter(source=DEMO_SOURCE).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(customer_ids)} customers, {total} touchpoints "
                f"({created_touches} new) from {start:%Y-%m-%d} to {end:%Y-%m-%d}."
            )
        )
        self.stdout.write(
            f"Playbooks: {history} past follow-up tasks; today {tasks_now['open']} open "
            f"({tasks_now['escalated']} escalated), {tasks_now['snoozed']} snoozed, {tasks_now['closed']} closed."
        )
        self.stdout.write("Demo logins (password):")
        for username, first, last, role, password, _ in STAFF:
            self.stdout.write(f"  {username:<7} {password:<18} {role} ({first} {last})")
        if not settings.DEBUG:
            self.stdout.write(self.style.WARNING("These demo passwords are public: never seed a production site."))

    def _staff(self) -> list[User]:
        users = []
        for username, first, last, role, password, _ in STAFF:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "email": f"{username}@rememberly.example"},
            )
            if created:
                user.set_password(password)
                user.is_staff = role == ADMINISTRATORS
                user.is_superuser = role == ADMINISTRATORS
                user.save()
            user.groups.add(Group.objects.get(name=role))
            users.append(user)
        return users

    def _customer(
        self, number: int, rng: random.Random, fake: Faker, segments: list[Any], owner: User, archetype: str
    ) -> Customer:
        ref = f"CUST-{number:05d}"
        existing = Customer.objects.filter(ref=ref).first()
        # The draws happen whether or not the customer exists, so a re-run stays in step.
        person = rng.random() < 0.15
        name = fake.name() if person else fake.company()
        contact = fake.name()
        segment = rng.choice(segments)
        if existing is not None:
            return existing
        domain = _ascii_slug(name)[:20] or "example"
        return customer_create(
            ref=ref,
            name=name,
            kind=CustomerKind.PERSON if person else CustomerKind.BUSINESS,
            email=f"{_ascii_slug(contact.split()[0]) or 'contact'}@{domain}.example",
            company="" if person else name,
            segment=segment,
            owner=owner,
            notes=f"Main contact: {contact}. Story in the demo: {archetype}.",
        )

    def _record(self, customer: Customer, story: Any, staff: list[User]) -> int:
        order = sorted(range(len(story.touches)), key=lambda i: story.touches[i].at)
        stored: dict[int, Interaction] = {}
        created = 0
        for index in order:
            touch = story.touches[index]
            result = interaction_record(
                customer=customer,
                channel=touch.channel,
                valence=touch.valence,
                occurred_at=touch.at,
                intensity=touch.intensity,
                summary=touch.summary,
                direction=touch.direction,
                staff=staff[touch.staff_index],
                rating=touch.rating,
                rating_scale=touch.rating_scale,
                resolves=stored.get(touch.resolves_index) if touch.resolves_index is not None else None,
                resolved_on_first_contact=touch.resolved_on_first_contact,
                stage=touch.stage,
                source=DEMO_SOURCE,
                external_id=f"{customer.ref}-{index}",
                refresh_memory=False,
            )
            stored[index] = result.interaction
            created += result.created
        outcomes_record_many(
            items=[
                OutcomeIn(customer=customer, kind=kind, occurred_at=at, source=DEMO_SOURCE,
                          external_id=f"{customer.ref}-outcome-{n}")
                for n, (at, kind) in enumerate(story.outcomes)
            ]
        )  # fmt: skip
        return created
