"""The memory breakdown in words, for people: what the customer will remember us for."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from interactions.models import Interaction, Valence

# Below this share of its strength a memory is worth calling "fading".
FADING_BELOW = 0.8


@dataclass(frozen=True)
class Moment:
    interaction: Interaction
    impact: float
    recovered_by: Interaction | None

    @property
    def words(self) -> str:
        i = self.interaction
        text = f"{i.get_channel_display().lower()} on {i.occurred_at:%-d %b %Y} ({Valence(i.valence).label.lower()})"
        if self.recovered_by is not None:
            text += f", softened by the recovery on {self.recovered_by.occurred_at:%-d %b}"
        if i.resolves is not None:
            text += f", recovering the {i.resolves.get_channel_display().lower()} of {i.resolves.occurred_at:%-d %b}"
        return text


@dataclass(frozen=True)
class Explanation:
    remembered_for: list[Moment]
    latest: Moment | None
    strength: float
    days_since_last: int | None

    @property
    def sentences(self) -> list[str]:
        if self.latest is None:
            return ["No touchpoints yet: nothing to remember, so the score sits at neutral."]
        lines = []
        if self.remembered_for:
            lines.append("Remembered mostly for: " + "; ".join(m.words for m in self.remembered_for) + ".")
        lines.append(f"Latest impression: {self.latest.words}.")
        if self.strength < FADING_BELOW and self.days_since_last is not None:
            lines.append(
                f"Fading: nothing for {self.days_since_last} days, the memory keeps "
                f"{self.strength:.0%} of its strength."
            )
        return lines


def explain(breakdown: dict[str, Any], *, now: datetime | None = None) -> Explanation:
    journeys = breakdown.get("top_journeys") or []
    end = breakdown.get("end")
    peaks = [j["peak"] for j in journeys[:3]]
    wanted = {p["touch_id"] for p in peaks} | ({end["touch_id"]} if end else set())
    found = Interaction.objects.select_related("stage", "resolves").in_bulk(wanted)
    recoveries: dict[int, Interaction] = {}
    for recovery in Interaction.objects.filter(resolves_id__in=wanted).order_by("occurred_at"):
        recoveries.setdefault(recovery.resolves_id, recovery)  # type: ignore[arg-type]

    def moment(item: dict[str, Any]) -> Moment | None:
        interaction = found.get(item["touch_id"])
        if interaction is None:
            return None
        return Moment(interaction, item["impact"], recoveries.get(interaction.pk))

    remembered = [m for m in (moment(p) for p in peaks) if m is not None]
    latest = moment(end) if end else None
    days = None
    if latest is not None:
        days = ((now or datetime.now(UTC)) - latest.interaction.occurred_at).days
    return Explanation(remembered, latest, float(breakdown.get("decay", 1.0)), days)
