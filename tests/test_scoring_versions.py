"""Scoring model versions (docs/memory-score.md section 13): a draft, its what-if, applying
it (scores in force served until the switch; a history that moved on is recomputed), the
rollback, and the promise that every score equals a from-scratch recompute afterwards."""

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditEntry
from customers.models import Customer
from interactions.models import ChannelDefault
from interactions.services.validation import STAGE_TABLES, StageDefaults
from memory.engine import MemoryParameters, recompute
from memory.models import ApplyPhase, CustomerMemory, ScoringVersion, StagedMemory, VersionStatus
from memory.services import (
    customer_touches,
    memory_parameters,
    memory_recompute_many,
    memory_refresh,
    parameters_fingerprint,
    scoring_version_apply,
    scoring_version_draft,
    scoring_version_previous,
    scoring_version_rollback,
    scoring_version_run,
    scoring_version_update,
    stale_customer_ids,
)
from memory.whatif import share, what_if
from tests.factories import CustomerFactory, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers() -> list[Customer]:
    """Six customers with histories the loss-aversion factor matters to (complaints among them)."""
    now = timezone.now()
    made = []
    for n in range(6):
        customer = CustomerFactory.create(ref=f"V-{n}")
        record(customer, at=now - timedelta(days=40), valence=2, channel="meeting")
        for k in range(n % 3):
            record(customer, at=now - timedelta(days=20 - k), valence=-2, channel="complaint", intensity=4)
        record(customer, at=now - timedelta(days=3), valence=1 if n % 2 else -1, channel="email")
        made.append(customer)
    memory_recompute_many(customer_ids=[c.pk for c in made])
    return made


def from_scratch(params: MemoryParameters) -> dict[int, float]:
    """Every customer's score recomputed from their whole history under `params`, now."""
    at = timezone.now().timestamp()
    return {
        c.pk: recompute(customer_touches(c.pk), params).state.read(at, params).score for c in Customer.objects.all()
    }


def live_scores() -> dict[int, float]:
    return dict(CustomerMemory.objects.values_list("customer_id", "score"))


def assert_equal_scores(expected: dict[int, float]) -> None:
    live = live_scores()
    assert live.keys() == expected.keys()
    for customer_id, score in expected.items():
        # Read a few seconds apart: fading over seconds moves a score by far less than this.
        assert live[customer_id] == pytest.approx(score, abs=1e-4), customer_id


def run_to_the_end(version: ScoringVersion) -> None:
    while scoring_version_run(version_id=version.pk, seconds=0):
        pass


def test_the_first_draft_records_the_model_in_force_and_changes_only_what_it_says(
    customers: list[Customer], administrator: Any
) -> None:
    with override_settings(MEMORY_MODEL={"loss_aversion": 2.5}):
        draft = scoring_version_draft(actor=administrator, parameters={"half_life_days": 60.0}, note="faster fading")
    environment = ScoringVersion.objects.get(number=1)
    assert environment.status == VersionStatus.ACTIVE
    assert environment.origin == "environment"
    assert environment.parameters["loss_aversion"] == 2.5
    assert environment.channel_intensities == dict(ChannelDefault.objects.values_list("channel", "intensity"))
    assert draft.number == 2
    assert draft.status == VersionStatus.DRAFT
    assert draft.based_on == environment
    assert draft.parameters == {**environment.parameters, "half_life_days": 60.0}
    entry = AuditEntry.objects.filter(object_type="memory.ScoringVersion", object_id=str(draft.pk)).get()
    assert entry.changes == {"half_life_days": [90.0, 60.0]}
    assert entry.reason == "faster fading"
    # A draft changes nothing in force.
    assert memory_parameters().loss_aversion == 2.5
    assert memory_parameters().half_life_days == 90.0


@pytest.mark.parametrize(
    ("parameters", "intensities", "field", "words"),
    [
        ({"loss_aversion": 0.5}, {}, "loss_aversion", "from 1 to 5"),
        ({"half_life_days": "soon"}, {}, "half_life_days", "Give a number"),
        ({"half_life_days": float("nan")}, {}, "half_life_days", "Give a number"),
        ({"at_risk_below": 70.0, "good_above": 60.0}, {}, "good_above", "above the at-risk band"),
        ({"top_journeys": 2.5}, {}, "top_journeys", "whole number"),
        ({"made_up": 1.0}, {}, "parameters", "Unknown parameter: made_up"),
        ({}, {"call": 9}, "intensity_call", "from 1 to 5"),
        ({}, {"pigeon": 3}, "intensity_pigeon", "Unknown channel"),
    ],
)
def test_a_bad_draft_names_the_field_and_stores_nothing(
    administrator: Any, parameters: dict[str, Any], intensities: dict[str, int], field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        scoring_version_draft(actor=administrator, parameters=parameters, channel_intensities=intensities)
    assert words in " ".join(caught.value.message_dict[field])
    assert not ScoringVersion.objects.filter(status=VersionStatus.DRAFT).exists()


def test_applying_serves_the_scores_in_force_until_the_switch_then_equals_a_recompute(
    customers: list[Customer], administrator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("memory.services.VERSION_CHUNK", 2)
    before = live_scores()
    draft = scoring_version_draft(actor=administrator, parameters={"loss_aversion": 4.0, "good_above": 60.0})
    draft = scoring_version_apply(version=draft, actor=administrator, reason="complaints hurt more here")
    assert draft.status == VersionStatus.APPLYING
    assert draft.apply_total == 6

    assert scoring_version_run(version_id=draft.pk, seconds=0)  # one chunk of two customers
    draft.refresh_from_db()
    assert draft.apply_phase == ApplyPhase.COMPUTING
    assert draft.apply_done == 2
    assert StagedMemory.objects.filter(version=draft).count() == 2
    assert live_scores() == before  # nothing live moved yet
    assert memory_parameters().loss_aversion == 2.25

    # A customer's history moves on after their memory was staged: the switch recomputes them.
    late = customers[0]
    record(late, at=timezone.now() - timedelta(hours=1), valence=-2, channel="complaint", intensity=5)
    memory_refresh(customer_id=late.pk)

    run_to_the_end(draft)
    draft.refresh_from_db()
    assert draft.status == VersionStatus.ACTIVE
    assert draft.apply_phase == ApplyPhase.IDLE
    assert not StagedMemory.objects.exists()
    params = memory_parameters()
    assert params.loss_aversion == 4.0
    assert params.good_above == 60.0
    assert_equal_scores(from_scratch(params))
    assert set(CustomerMemory.objects.values_list("parameters_fingerprint", flat=True)) == {
        parameters_fingerprint(params)
    }
    assert ScoringVersion.objects.get(number=1).status == VersionStatus.RETIRED


def test_a_rollback_brings_back_the_version_before_and_its_channel_defaults(
    customers: list[Customer], administrator: Any
) -> None:
    original = memory_parameters()
    STAGE_TABLES.forget()
    kept_before = StageDefaults().intensity("call")  # this process keeps the channel defaults
    draft = scoring_version_draft(
        actor=administrator, parameters={"peak_end_weight": 0.9}, channel_intensities={"complaint": 5, "call": 2}
    )
    run_to_the_end(scoring_version_apply(version=draft, actor=administrator, reason="try peak-end"))
    assert ChannelDefault.objects.get(channel="call").intensity == 2
    assert (kept_before, StageDefaults().intensity("call")) == (3, 2)  # the next touchpoint's default
    assert scoring_version_previous().number == 1  # type: ignore[union-attr]

    with pytest.raises(ValidationError) as caught:
        scoring_version_rollback(actor=administrator, reason=" ")
    assert "reason" in caught.value.message_dict

    back = scoring_version_rollback(actor=administrator, reason="managers could not explain the movers")
    run_to_the_end(back)
    back.refresh_from_db()
    assert back.number == 1
    assert back.status == VersionStatus.ACTIVE
    assert ScoringVersion.objects.get(pk=draft.pk).status == VersionStatus.RETIRED
    assert memory_parameters() == original
    assert ChannelDefault.objects.get(channel="call").intensity == back.channel_intensities["call"]
    assert_equal_scores(from_scratch(original))
    reasons = list(
        AuditEntry.objects.filter(object_type="memory.ScoringVersion", object_id=str(back.pk)).values_list(
            "reason", flat=True
        )
    )
    assert "Rollback: managers could not explain the movers" in reasons


def test_only_one_apply_at_a_time_and_only_drafts_change(customers: list[Customer], administrator: Any) -> None:
    first = scoring_version_draft(actor=administrator, parameters={"loss_aversion": 3.0})
    second = scoring_version_draft(actor=administrator, parameters={"loss_aversion": 3.5})
    scoring_version_apply(version=first, actor=administrator, reason="first")
    with pytest.raises(ValidationError, match="is being applied"):
        scoring_version_apply(version=second, actor=administrator, reason="second")
    with pytest.raises(ValidationError, match="only a draft can change"):
        scoring_version_update(
            version=first, actor=administrator, parameters={"loss_aversion": 1.5}, channel_intensities={}, note=""
        )
    run_to_the_end(first)
    with pytest.raises(ValidationError, match="cannot be applied"):
        scoring_version_apply(version=first, actor=administrator, reason="again")


def test_a_failed_apply_leaves_the_model_as_it_was(
    customers: list[Customer], administrator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = live_scores()
    draft = scoring_version_apply(
        version=scoring_version_draft(actor=administrator, parameters={"loss_aversion": 3.0}),
        actor=administrator,
        reason="will fail",
    )

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("memory.services._stage", broken)
    with pytest.raises(RuntimeError):
        scoring_version_run(version_id=draft.pk)
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT
    assert draft.apply_phase == ApplyPhase.IDLE
    assert draft.apply_problem == "RuntimeError: disk on fire"
    assert memory_parameters().loss_aversion == 2.25
    assert live_scores() == before


def test_a_memory_left_under_other_numbers_is_stale_until_recomputed(
    customers: list[Customer], administrator: Any
) -> None:
    run_to_the_end(
        scoring_version_apply(
            version=scoring_version_draft(actor=administrator, parameters={"loss_aversion": 3.0}),
            actor=administrator,
            reason="r",
        )
    )
    assert stale_customer_ids(limit=100) == []
    # A refresh that raced the switch wrote its memory under the old numbers.
    CustomerMemory.objects.filter(customer=customers[2]).update(parameters_fingerprint="old")
    assert stale_customer_ids(limit=100) == [customers[2].pk]
    memory_refresh(customer_id=customers[2].pk)
    assert stale_customer_ids(limit=100) == []


def test_the_what_if_counts_band_changes_and_names_the_parameter_that_moved_each_customer(
    customers: list[Customer],
) -> None:
    current = MemoryParameters()
    draft = MemoryParameters(loss_aversion=4.5, half_life_days=120.0)
    histories = {c.pk: customer_touches(c.pk) for c in customers}
    at = timezone.now().timestamp()
    result = what_if(histories, at=at, current=current, draft=draft)
    assert result.scored == 6
    assert not result.sampled
    assert result.changed_parameters == ["loss_aversion", "half_life_days"]
    assert sum(result.histogram_before) == sum(result.histogram_after) == 6
    for band in ("at_risk", "neutral", "good"):
        assert result.bands_before[band].low == result.bands_before[band].value  # every customer: exact
    assert result.movers, "a heavier loss aversion moves customers with complaints"
    top = result.movers[0]
    assert top.causes[0].parameter == "loss_aversion"
    assert top.causes[0].points < 0
    assert top.score_after == pytest.approx(recompute(histories[top.customer_id], draft).state.read(at, draft).score)
    assert "bad" in top.history


def test_a_sampled_share_has_an_interval_that_holds_the_truth() -> None:
    estimate = share(30, 100, 10_000)
    assert estimate.low < 0.3 < estimate.high
    assert estimate.high - estimate.low < 0.2
    exact = share(30, 100, 100)
    assert exact.low == exact.value == exact.high == 0.3
