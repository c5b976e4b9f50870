"""Interview config validation: what a client can get wrong, and the message it gets."""

import pytest
from pydantic import ValidationError

from voice_shared.api.configs import ConfigCreate, ConfigUpdate
from voice_shared.testing import config_body


def errors(body: dict) -> str:  # type: ignore[type-arg]
    with pytest.raises(ValidationError) as err:
        ConfigCreate.model_validate(body)
    return str(err.value)


def test_the_factory_body_is_valid() -> None:
    config = ConfigCreate.model_validate(config_body())
    assert config.questions[1].follow_up.expected_items == ["composite index"]
    assert config.providers.transport == "local"


def test_defaults_fill_optional_parts() -> None:
    body = config_body()
    for key in ("providers", "language", "maxDurationMinutes", "idleTimeoutSeconds"):
        body.pop(key)
    config = ConfigCreate.model_validate(body)
    assert (config.providers.stt.provider, config.providers.llm.provider) == ("whisper", "scripted")


@pytest.mark.parametrize("missing", ["botName", "persona", "greeting", "questions", "rubric", "name"])
def test_required_fields(missing: str) -> None:
    body = config_body()
    body.pop(missing)
    assert missing in errors(body)


def test_empty_object_is_rejected() -> None:
    errors({})


def test_question_ids_unique() -> None:
    body = config_body()
    body["questions"][1]["id"] = body["questions"][0]["id"]
    assert "repeated: intro" in errors(body)


def test_rubric_ids_unique_and_weights_positive() -> None:
    body = config_body()
    body["rubric"]["criteria"][1]["id"] = "communication"
    assert "criteria ids must be unique" in errors(body)
    body = config_body()
    body["rubric"]["criteria"][0]["weight"] = 0
    assert "greater than 0" in errors(body)


def test_level_anchor_scores_distinct() -> None:
    body = config_body()
    body["rubric"]["criteria"][0]["levels"] = [{"score": 3, "description": "a"},
                                                {"score": 3, "description": "b"}]
    assert "same score" in errors(body)


@pytest.mark.parametrize(("field", "value"), [
    ("maxDurationMinutes", 0), ("maxDurationMinutes", 10_000), ("idleTimeoutSeconds", 1),
    ("language", "English"), ("questions", []),
])
def test_out_of_range(field: str, value: object) -> None:
    errors(config_body(**{field: value}))


def test_follow_up_bounds_and_items() -> None:
    body = config_body()
    body["questions"][0]["followUp"]["maxFollowUps"] = 9
    errors(body)
    body = config_body()
    body["questions"][0]["followUp"]["expectedItems"] = [""]
    errors(body)


def test_providers_checked() -> None:
    errors(config_body(providers={"transport": "zoom"}))
    assert "options.model" in errors(config_body(providers={"llm": {"provider": "openai"}}))
    ConfigCreate.model_validate(config_body(providers={"llm": {"provider": "openai",
                                                               "options": {"model": "gpt-4o-mini"}}}))



def test_a_cartesia_voice_is_checked_when_the_config_is_saved() -> None:
    def cartesia(**options: object) -> dict:  # type: ignore[type-arg]
        return config_body(providers={"tts": {"provider": "cartesia", "options": options}})

    assert "voiceId: Field required" in errors(cartesia())
    assert "speed: Input should be less than or equal to 1.5" in errors(cartesia(voiceId="v-1", speed=3))
    assert "voiceID: Extra inputs are not permitted" in errors(cartesia(voiceID="v-1"))  # a typo is not ignored
    ConfigCreate.model_validate(cartesia(voiceId="v-1", model="sonic-2", speed=1.2, volume=0.8, emotion="calm"))
    deepgram = {"stt": {"provider": "deepgram", "options": {"model": ""}}}
    assert "model: String should have at least 1 character" in errors(config_body(providers=deepgram))


def test_unknown_fields_rejected_at_every_level() -> None:
    assert "Extra inputs" in errors(config_body(colour="blue"))
    body = config_body()
    body["questions"][0]["hint"] = "x"
    assert "Extra inputs" in errors(body)


def test_update_is_partial_but_typed() -> None:
    assert ConfigUpdate.model_validate({"active": False}).model_dump(exclude_unset=True) == {"active": False}
    with pytest.raises(ValidationError):
        ConfigUpdate.model_validate({"questions": []})


def test_nul_characters_are_refused_with_their_place() -> None:
    body = config_body()
    body["questions"][1]["followUp"]["expectedItems"] = ["ok", "bad\x00"]
    assert "questions.1.followUp.expectedItems.1" in errors(body)


def test_an_update_may_not_null_a_field() -> None:
    with pytest.raises(ValidationError, match="providers, rubric cannot be null"):
        ConfigUpdate.model_validate({"rubric": None, "providers": None, "active": False})
    assert ConfigUpdate.model_validate({"active": False}).model_fields_set == {"active"}
