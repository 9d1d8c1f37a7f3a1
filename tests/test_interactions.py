from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from customers.models import Customer
from interactions.models import Interaction
from interactions.services import (
    TouchpointIn,
    interaction_change,
    interaction_delete,
    interaction_record,
    interactions_record_many,
)
from journeys.models import Journey
from tests.factories import T0, CustomerFactory, record

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, int, list[int], int]:
    return (
        Interaction.objects.count(),
        Journey.objects.count(),
        list(Customer.objects.order_by("id").values_list("history_version", flat=True)),
        Journey.objects.filter(closed_at__isnull=True).count(),
    )


def _record_raw(customer: Customer, **overrides: object) -> None:
    values: dict[str, object] = {
        "channel": "call",
        "valence": 1,
        "occurred_at": T0,
        "source": "crm",
        "external_id": "x-1",
    }
    values.update(overrides)
    interaction_record(customer=customer, **values)  # type: ignore[arg-type]


def test_repeat_push_returns_existing_interaction(customer: Customer) -> None:
    first = interaction_record(
        customer=customer, channel="call", valence=1, occurred_at=T0, source="crm", external_id="call-1"
    )
    again = interaction_record(
        customer=customer, channel="call", valence=-2, occurred_at=T0, source="crm", external_id="call-1"
    )
    assert first.created
    assert not again.created
    assert again.interaction.pk == first.interaction.pk
    assert again.interaction.valence == 1  # the stored item, not the repeat's payload
    assert Interaction.objects.count() == 1


def test_a_retry_that_is_malformed_or_names_what_is_gone_still_answers_duplicate(customer: Customer) -> None:
    """A retry must never turn a success into an error, whatever else is wrong with it
    now; a bad item repeating the key of one stored by the same batch stays an error."""
    stored = record(customer, source="crm", external_id="r-1")
    retries = [
        TouchpointIn(customer=customer, channel="call", valence=9, occurred_at=T0, source="crm", external_id="r-1"),
        TouchpointIn(
            customer=customer, channel="call", valence=1, occurred_at=T0, source="crm", external_id="r-1", stage="gone"
        ),
        TouchpointIn(
            customer=customer, channel="call", valence=1, occurred_at=T0, source="crm", external_id="r-1", resolves=4242
        ),
        TouchpointIn(customer=customer, channel="call", valence=1, occurred_at=T0, source="crm", external_id="new"),
        TouchpointIn(customer=customer, channel="call", valence=7, occurred_at=T0, source="crm", external_id="new"),
    ]
    results = interactions_record_many(items=retries)
    assert [r.status for r in results] == ["duplicate", "duplicate", "duplicate", "created", "error"]
    assert {r.interaction.pk for r in results[:3] if r.interaction} == {stored.pk}
    assert "valence" in results[4].errors
    customer.refresh_from_db()
    assert customer.history_version == 2  # the one new touchpoint; the retries changed nothing


def test_same_external_id_from_another_source_is_another_interaction(customer: Customer) -> None:
    record(customer, source="crm", external_id="42")
    record(customer, source="helpdesk", external_id="42")
    assert Interaction.objects.count() == 2


def test_database_refuses_duplicate_idempotency_key(customer: Customer) -> None:
    existing = record(customer, source="crm", external_id="dup")
    with pytest.raises(IntegrityError), transaction.atomic():
        Interaction.objects.create(
            customer=customer,
            journey=existing.journey,
            stage=existing.stage,
            channel="call",
            valence=0,
            intensity=3,
            occurred_at=T0,
            source="crm",
            external_id="dup",
        )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"valence": 3}, "valence"),
        ({"valence": -3}, "valence"),
        ({"valence": True}, "valence"),
        ({"intensity": 0}, "intensity"),
        ({"intensity": 6}, "intensity"),
        ({"occurred_at": datetime(2026, 3, 2, 9, 0)}, "occurred_at"),  # naive
        ({"occurred_at": "2026-03-02T09:00:00Z"}, "occurred_at"),  # not parsed
        ({"occurred_at": timezone.now() + timedelta(days=400)}, "occurred_at"),  # far future
        ({"channel": "fax"}, "channel"),
        ({"direction": "sideways"}, "direction"),
        ({"summary": "x" * 5001}, "summary"),
        ({"rating": 11, "rating_scale": "nps"}, "rating"),
        ({"rating": 0, "rating_scale": "csat"}, "rating"),
        ({"rating": 4}, "rating_scale"),
        ({"source": ""}, "source"),
        ({"external_id": "   "}, "external_id"),
        ({"stage": "nirvana"}, "stage"),
        ({"resolves": 999_999}, "resolves"),
    ],
)
def test_bad_touchpoint_is_refused_with_field_error_and_nothing_written(
    customer: Customer, overrides: dict[str, object], field: str
) -> None:
    record(customer, external_id="before")  # something already stored must stay intact
    before = _counts()
    with pytest.raises(ValidationError) as excinfo:
        _record_raw(customer, **overrides)
    assert field in excinfo.value.message_dict
    assert all(message.strip() for message in excinfo.value.message_dict[field])
    assert _counts() == before


def test_unknown_channel_error_lists_the_valid_channels(customer: Customer) -> None:
    with pytest.raises(ValidationError) as excinfo:
        _record_raw(customer, channel="fax")
    assert "support_ticket" in excinfo.value.message_dict["channel"][0]


@pytest.mark.parametrize(
    ("sql_values", "constraint"),
    [
        ("valence = 5", "interaction_valence_range"),
        ("intensity = 9", "interaction_intensity_range"),
        ("channel = 'fax'", "interaction_channel_valid"),
        ("rating = 12, rating_scale = 'nps'", "interaction_rating_on_its_scale"),
        ("external_id = ''", "interaction_key_not_blank"),
    ],
)
def test_database_checks_back_the_validation(customer: Customer, sql_values: str, constraint: str) -> None:
    interaction = record(customer)
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE interactions_interaction SET {sql_values} WHERE id = %s",  # noqa: S608 - fixed test values
            [interaction.pk],
        )


def test_stage_and_intensity_default_from_the_channel(customer: Customer) -> None:
    complaint = record(customer, channel="complaint", valence=-2)
    newsletter = record(customer, channel="newsletter", valence=1, days=1)
    assert (complaint.stage.key, complaint.intensity) == ("fulfilment", 5)
    assert (newsletter.stage.key, newsletter.intensity) == ("anticipation", 1)


def test_explicit_stage_and_intensity_win_over_defaults(customer: Customer) -> None:
    interaction = record(customer, channel="complaint", valence=-1, stage="inspection", intensity=2)
    assert (interaction.stage.key, interaction.intensity) == ("inspection", 2)


def _resolution_refused(customer: Customer, **fields: Any) -> str:
    with pytest.raises(ValidationError) as excinfo:
        record(customer, **fields)
    [message] = excinfo.value.message_dict["resolves"]
    return message


def test_resolution_must_belong_to_the_same_customer(customer: Customer) -> None:
    other = CustomerFactory.create()
    complaint = record(other, channel="complaint", valence=-2)
    message = _resolution_refused(customer, valence=2, resolves=complaint.pk, days=1)
    assert message == "The interaction to resolve belongs to another customer."


def test_resolution_cannot_precede_the_complaint(customer: Customer) -> None:
    complaint = record(customer, channel="complaint", valence=-2, days=5)
    message = _resolution_refused(customer, valence=2, resolves=complaint, days=1)
    assert message == "A resolution cannot happen before the complaint it resolves."


def test_a_resolution_at_the_same_moment_as_the_complaint_is_accepted(customer: Customer) -> None:
    """Sorted out on the same call: the complaint and its recovery share a timestamp."""
    complaint = record(customer, channel="complaint", valence=-2, days=1)
    recovery = record(customer, valence=2, resolves=complaint, days=1)
    assert recovery.resolves == complaint


@pytest.mark.parametrize(("channel", "valence"), [("call", 2), ("email", 0), ("complaint", 0)])
def test_only_negative_touchpoints_and_complaints_can_be_resolved(
    customer: Customer, channel: str, valence: int
) -> None:
    """docs/memory-score.md section 1: a recovery resolves a complaint or a bad moment. A
    complaint counts whatever its valence; any other channel only when it was negative."""
    target = record(customer, channel=channel, valence=valence)
    if channel == "complaint":
        assert record(customer, valence=2, resolves=target, days=1).resolves == target
    else:
        message = _resolution_refused(customer, valence=2, resolves=target, days=1)
        assert message == "Only a complaint or a negative touchpoint can be resolved."


def test_a_bad_moment_on_any_channel_can_be_resolved(customer: Customer) -> None:
    bad_email = record(customer, channel="email", valence=-1)
    assert record(customer, valence=2, resolves=bad_email, days=1).resolves == bad_email


def test_a_recovery_names_a_stored_complaint_by_its_external_id_within_its_source(customer: Customer) -> None:
    """docs/api.md section 2 (`resolves`): the complaint's id, or its external_id from the
    same source, also one stored by an earlier request."""
    complaint = record(customer, channel="complaint", valence=-2, source="helpdesk", external_id="HD-7")
    record(customer, channel="complaint", valence=-1, source="crm", external_id="HD-8")
    recovery = record(customer, valence=2, source="helpdesk", resolves=" HD-7 ", days=1)
    assert recovery.resolves == complaint
    # The same external id under another source is another touchpoint: not found.
    message = _resolution_refused(customer, valence=2, source="helpdesk", resolves="HD-8", days=1)
    assert message == "No interaction 'HD-8' to resolve."


def test_recording_bumps_history_version_only_on_creation(customer: Customer) -> None:
    record(customer, source="crm", external_id="v")
    interaction_record(customer=customer, channel="call", valence=1, occurred_at=T0, source="crm", external_id="v")
    customer.refresh_from_db()
    assert (customer.history_version, customer.rewrite_version) == (1, 0)


def test_change_and_delete_mark_the_past_as_rewritten(customer: Customer) -> None:
    first = record(customer)
    second = record(customer, days=1)
    interaction_change(interaction=first, valence=-1, summary="Actually it went badly")
    interaction_delete(interaction=second)
    customer.refresh_from_db()
    first.refresh_from_db()
    assert first.valence == -1
    assert (customer.history_version, customer.rewrite_version) == (4, 2)
    assert first.journey.interactions.count() == 1


def test_change_refuses_out_of_range_values_and_keeps_the_row(customer: Customer) -> None:
    interaction = record(customer, valence=1)
    with pytest.raises(ValidationError) as excinfo:
        interaction_change(interaction=interaction, valence=7)
    assert "valence" in excinfo.value.message_dict
    interaction.refresh_from_db()
    assert interaction.valence == 1


def test_change_refuses_fields_that_define_identity(customer: Customer) -> None:
    interaction = record(customer)
    with pytest.raises(ValidationError) as excinfo:
        interaction_change(interaction=interaction, external_id="new")
    assert "external_id" in excinfo.value.message_dict


def test_recording_refreshes_the_memory_unless_told_not_to_and_stores_no_summary_by_default(
    customer: Customer, django_capture_on_commit_callbacks: Any
) -> None:
    """The service's defaults are what the log form and the API rely on: a touchpoint with
    nothing written about it stores an empty summary, and its memory follows (after commit)."""
    from memory.models import CustomerMemory

    with django_capture_on_commit_callbacks(execute=True):
        stored = interaction_record(
            customer=customer, channel="call", valence=1, occurred_at=T0, source="crm", external_id="plain"
        ).interaction
    assert stored.summary == ""
    assert CustomerMemory.objects.get(customer=customer).history_version == 1


def test_a_complaint_fixed_on_the_spot_is_stored_as_such(customer: Customer) -> None:
    """docs/memory-score.md section 1: resolved_on_first_contact counts as a good recovery,
    so the flag must reach the row."""
    fixed = record(customer, channel="complaint", valence=-1, resolved_on_first_contact=True)
    plain = record(customer, channel="complaint", valence=-1)
    assert Interaction.objects.get(pk=fixed.pk).resolved_on_first_contact is True
    assert Interaction.objects.get(pk=plain.pk).resolved_on_first_contact is False
