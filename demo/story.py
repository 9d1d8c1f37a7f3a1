"""The story model behind the demo data. Pure Python; it never calls the memory model.

Each customer gets an archetype and a hidden day-by-day "satisfaction" that the story
moves: incidents push it down, recoveries (more likely with a skilled owner) bring part
of it back, and it drifts with the archetype. Touchpoints are sampled from that hidden
satisfaction; survey answers (NPS) and the quarterly renewal decisions (renew, expand,
downgrade, churn) are sampled from it too, independently of how Rememberly scores
memory. So calibrate_memory and the backtest on the demo prove that the pipeline works
end to end, not that the memory model is right: the science needs real answers and
real churn.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

ARCHETYPES = {
    # name: (weight, touches per 30 days, daily drift of satisfaction, incidents per year)
    "loyal": (0.30, 1.6, 0.002, 0.6),
    "rocky": (0.25, 2.2, -0.001, 3.5),
    "quiet": (0.15, 0.35, 0.0, 0.4),
    "declining": (0.15, 1.2, -0.004, 1.5),
    "recovering": (0.15, 1.8, 0.004, 1.2),
}

STAGES = ["anticipation", "trepidation", "inspection", "fulfilment"]
CHANNEL_WEIGHTS = {
    "email": 22,
    "call": 18,
    "support_ticket": 14,
    "chat": 10,
    "newsletter": 10,
    "meeting": 8,
    "visit": 4,
    "social": 4,
    "event": 3,
    "account_review": 3,
}

SUMMARIES = {
    "email": ["Answered question about invoice", "Sent renewal options", "Followed up on delivery date"],
    "call": ["Checked in after go-live", "Walked through the new report", "Clarified contract terms"],
    "support_ticket": ["Login issue fixed", "Export failing for large files", "Configured SSO"],
    "chat": ["Quick how-to on filters", "Password reset", "Asked about API limits"],
    "newsletter": ["Monthly product newsletter", "Release notes digest"],
    "meeting": ["Quarterly planning meeting", "Kick-off with new team", "Roadmap session"],
    "visit": ["On-site visit to operations team", "Training day on site"],
    "social": ["Mentioned us on LinkedIn", "Replied to their post about the rollout"],
    "event": ["Attended the user group", "Joined the customer webinar"],
    "account_review": ["Annual account review", "Half-year business review"],
    "complaint": [
        "Invoice charged twice",
        "Outage during month-end close",
        "Promised callback never came",
        "Delivery three weeks late",
        "Data export corrupted",
    ],
    "recovery": [
        "Refund issued and apology call from the owner",
        "Root cause explained, credit applied",
        "Fixed on a call the same day, followed up in writing",
    ],
}


@dataclass
class StoryTouch:
    at: datetime
    channel: str
    valence: int
    intensity: int | None
    summary: str
    direction: str = "inbound"
    staff_index: int = 0
    rating: int | None = None
    rating_scale: str = ""
    stage: str | None = None
    resolves_index: int | None = None
    resolved_on_first_contact: bool = False


@dataclass
class CustomerStory:
    archetype: str
    touches: list[StoryTouch] = field(default_factory=list)
    # Contract decisions, one a quarter: (when, renewed | expanded | downgraded | churned).
    outcomes: list[tuple[datetime, str]] = field(default_factory=list)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _valence(satisfaction: float, rng: random.Random, staff_skill: float) -> int:
    felt = 2.0 * satisfaction + staff_skill + rng.gauss(0.0, 0.7)
    return int(_clamp(round(felt), -2, 2))


def _nps(satisfaction: float, recent_unrecovered: float, rng: random.Random) -> int:
    # The customer's own answer: their current satisfaction, pulled down by any incident
    # still unrecovered in the last four months, plus noise.
    answer = 6.5 + 3.5 * satisfaction - 2.5 * recent_unrecovered + rng.gauss(0.0, 1.2)
    return int(_clamp(round(answer), 0, 10))


def _renewal(satisfaction: float, recent_unrecovered: float, rng: random.Random) -> str:
    """The customer's own decision at a quarterly renewal: likelier to leave when unhappy
    now and when an incident still hurts, independently of how Rememberly scores memory."""
    leave = 1.0 / (1.0 + math.exp(2.9 + 2.5 * satisfaction - 1.6 * recent_unrecovered))
    draw = rng.random()
    if draw < leave:
        return "churned"
    if satisfaction > 0.5 and draw > 0.85:
        return "expanded"
    if satisfaction < -0.2 and draw > 0.8:
        return "downgraded"
    return "renewed"


def _incident(
    rng: random.Random, story: CustomerStory, *, day: datetime, end: datetime, staff_skills: list[float],
    owner_index: int, satisfaction: float, unrecovered: list[tuple[datetime, float]],
) -> float:  # fmt: skip
    """A complaint, recovered by the owner (quickly on first contact, or later) or left
    open; returns the customer's satisfaction after it."""
    severity = rng.choice([1, 1, 2])
    satisfaction = _clamp(satisfaction - 0.25 * severity, -1, 1)
    complaint_index = len(story.touches)
    complaint = StoryTouch(
        at=day + timedelta(hours=rng.randint(8, 17)),
        channel="complaint",
        valence=-severity,
        intensity=None,
        summary=rng.choice(SUMMARIES["complaint"]),
        staff_index=rng.randrange(len(staff_skills)),
    )
    story.touches.append(complaint)
    # Skilled owners recover more complaints, and faster (seeds/002: do not avoid the
    # customer you let down).
    if rng.random() >= 0.35 + 0.5 * staff_skills[owner_index]:
        unrecovered.append((day, float(severity)))
        return satisfaction
    delay = timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 6))
    # A recovery that would fall after the story's end happens on first contact.
    if rng.random() < 0.3 or complaint.at + delay > end:
        complaint.resolved_on_first_contact = True
        return _clamp(satisfaction + 0.15 * severity, -1, 1)
    story.touches.append(
        StoryTouch(
            at=complaint.at + delay,
            channel=rng.choice(["call", "visit", "meeting"]),
            valence=rng.choice([1, 2, 2]),
            intensity=4,
            summary=rng.choice(SUMMARIES["recovery"]),
            direction="outbound",
            staff_index=owner_index,
            resolves_index=complaint_index,
        )
    )
    return _clamp(satisfaction + 0.2 * severity + 0.05, -1, 1)


def _everyday_touch(
    rng: random.Random, *, day: datetime, staff_skills: list[float], owner_index: int, satisfaction: float
) -> StoryTouch:
    channels, weights = zip(*CHANNEL_WEIGHTS.items(), strict=True)
    channel = rng.choices(channels, weights=weights)[0]
    staff_index = owner_index if rng.random() < 0.5 else rng.randrange(len(staff_skills))
    # Staff tag the stage by the customer's state of mind; a quarter of the time that is
    # not the channel's usual stage.
    stage = rng.choice(STAGES) if rng.random() < 0.25 else None
    return StoryTouch(
        at=day + timedelta(hours=rng.randint(8, 18), minutes=rng.randint(0, 59)),
        channel=channel,
        valence=_valence(satisfaction, rng, staff_skills[staff_index]),
        intensity=None if rng.random() < 0.7 else rng.randint(1, 5),
        summary=rng.choice(SUMMARIES[channel]),
        direction="outbound" if channel in {"newsletter", "meeting", "account_review"} else "inbound",
        staff_index=staff_index,
        stage=stage,
    )


def _survey(
    rng: random.Random, *, day: datetime, satisfaction: float, open_trouble: float, owner_index: int
) -> StoryTouch:
    rating = _nps(satisfaction, open_trouble, rng)
    valence = -2 if rating <= 2 else -1 if rating <= 4 else 0 if rating <= 6 else 1 if rating <= 8 else 2
    return StoryTouch(
        at=day + timedelta(hours=12),
        channel="survey",
        valence=valence,
        intensity=2,
        summary=f"NPS survey answered: {rating}",
        rating=rating,
        rating_scale="nps",
        staff_index=owner_index,
    )


def customer_story(
    rng: random.Random, *, start: datetime, end: datetime, staff_skills: list[float], owner_index: int
) -> CustomerStory:
    """One customer's year: touchpoints with their hidden causes already resolved."""
    names = list(ARCHETYPES)
    archetype = rng.choices(names, weights=[ARCHETYPES[n][0] for n in names])[0]
    _, rate, drift, incidents_per_year = ARCHETYPES[archetype]
    satisfaction = _clamp(rng.gauss(0.25 if archetype != "recovering" else -0.3, 0.25), -1, 1)
    story = CustomerStory(archetype)
    unrecovered: list[tuple[datetime, float]] = []  # (when, severity) of open incidents

    def open_trouble(day: datetime) -> float:
        return math.tanh(sum(sev for when, sev in unrecovered if (day - when).days <= 120) / 2.0)

    day = start
    next_survey = start + timedelta(days=rng.randint(45, 110))
    next_renewal = start + timedelta(days=rng.randint(20, 91))
    while day < end:
        satisfaction = _clamp(satisfaction + drift + rng.gauss(0.0, 0.01), -1, 1)
        if rng.random() < incidents_per_year / 365.0:
            satisfaction = _incident(rng, story, day=day, end=end, staff_skills=staff_skills, owner_index=owner_index,
                                     satisfaction=satisfaction, unrecovered=unrecovered)  # fmt: skip
        if rng.random() < rate / 30.0:
            story.touches.append(_everyday_touch(rng, day=day, staff_skills=staff_skills, owner_index=owner_index,
                                                 satisfaction=satisfaction))  # fmt: skip
        if day >= next_survey:
            story.touches.append(_survey(rng, day=day, satisfaction=satisfaction, open_trouble=open_trouble(day),
                                         owner_index=owner_index))  # fmt: skip
            next_survey = day + timedelta(days=rng.randint(75, 120))
        if day >= next_renewal:
            decision = _renewal(satisfaction, open_trouble(day), rng)
            story.outcomes.append((day + timedelta(hours=9), decision))
            if decision == "churned":
                break  # gone: nobody logs touchpoints with a former customer
            next_renewal = day + timedelta(days=91)
        day += timedelta(days=1)
    return story
