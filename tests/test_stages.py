import pytest

from interactions.models import Channel, ChannelDefault
from journeys.models import JourneyStage

pytestmark = pytest.mark.django_db


def test_migration_seeds_oconnells_five_stages_in_order() -> None:
    stages = list(JourneyStage.objects.order_by("position"))
    assert [s.key for s in stages] == ["anticipation", "trepidation", "inspection", "fulfilment", "evaluation"]
    assert all(len(s.description) > 40 for s in stages)


def test_every_channel_has_a_default_stage_and_intensity() -> None:
    defaults = {d.channel: d for d in ChannelDefault.objects.select_related("stage")}
    assert set(defaults) == set(Channel.values)
    assert defaults["complaint"].intensity == 5
    assert defaults["newsletter"].intensity == 1
    assert defaults["survey"].stage.key == "evaluation"


def test_each_stage_lists_the_channels_it_defaults_for() -> None:
    evaluation = JourneyStage.objects.get(key="evaluation")
    assert set(evaluation.default_channels.values_list("channel", flat=True)) == {"account_review", "survey"}
