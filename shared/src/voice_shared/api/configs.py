"""Interview configs: persona, question plan, follow-ups, rubric and voice providers."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from pydantic import Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from voice_shared.api.common import ApiModel, Slug, WriteModel


class QuestionType(StrEnum):
    open = "open"
    behavioral = "behavioral"
    technical = "technical"
    situational = "situational"
    screening = "screening"


ExpectedItem = Annotated[str, Field(min_length=1, max_length=200)]


class FollowUp(WriteModel):
    """When to ask follow-ups: short answers or missing expected items, up to maxFollowUps."""

    enabled: bool = True
    max_follow_ups: int = Field(default=2, ge=0, le=5)
    expected_items: list[ExpectedItem] = Field(
        default_factory=list, max_length=20,
        description="Points a complete answer mentions; missing ones prompt a follow-up.",
    )


class Question(WriteModel):
    id: Slug
    text: str = Field(min_length=1, max_length=2000)
    type: QuestionType = QuestionType.open
    competency: str = Field(default="general", min_length=1, max_length=100)
    time_limit_seconds: int = Field(default=180, ge=15, le=3600)
    follow_up: FollowUp = Field(default_factory=FollowUp)


class RubricLevel(WriteModel):
    score: int = Field(ge=1, le=5)
    description: str = Field(min_length=1, max_length=1000)


class Criterion(WriteModel):
    id: Slug
    name: str = Field(min_length=1, max_length=120)
    weight: float = Field(gt=0, le=100)
    description: str = Field(default="", max_length=2000)
    levels: list[RubricLevel] = Field(default_factory=list, max_length=5)

    @model_validator(mode="after")
    def _distinct_level_scores(self) -> "Criterion":
        scores = [lv.score for lv in self.levels]
        if len(scores) != len(set(scores)):
            raise ValueError(f"criterion {self.id!r} has two level anchors with the same score")
        return self


class Rubric(WriteModel):
    criteria: list[Criterion] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _unique_ids(self) -> "Rubric":
        ids = [c.id for c in self.criteria]
        if len(ids) != len(set(ids)):
            raise ValueError("rubric criteria ids must be unique")
        return self


class SttChoice(WriteModel):
    provider: Literal["whisper", "deepgram"] = "whisper"
    options: dict[str, Any] = Field(default_factory=dict, description="For 'deepgram': model.")

    @model_validator(mode="after")
    def _options_fit(self) -> "SttChoice":
        check_provider_options(self.provider, self.options)
        return self


class LlmChoice(WriteModel):
    provider: Literal["scripted", "openai"] = "scripted"
    options: dict[str, Any] = Field(
        default_factory=dict, description="For 'openai': model (required), baseUrl, temperature."
    )

    @model_validator(mode="after")
    def _model_named(self) -> "LlmChoice":
        if self.provider == "openai" and not isinstance(self.options.get("model"), str):
            raise ValueError("llm provider 'openai' needs options.model (e.g. 'gpt-4o-mini')")
        return self


class DeepgramOptions(WriteModel):
    """Deepgram's live transcription as a config names it; checked when the config is saved."""

    model: str | None = Field(default=None, min_length=1, max_length=100, description="Default: nova-3-general.")


class CartesiaOptions(WriteModel):
    """A Cartesia voice as a config names it (Cartesia's documented ranges); checked when the config is saved."""

    voice_id: str = Field(min_length=1, max_length=200, description="Cartesia's voice id; it has no default voice.")
    model: str | None = Field(default=None, min_length=1, max_length=100, description="Default: Pipecat's.")
    speed: float | None = Field(default=None, ge=0.6, le=1.5)
    volume: float | None = Field(default=None, ge=0.5, le=2.0)
    emotion: str | None = Field(default=None, min_length=1, max_length=50)


class TtsChoice(WriteModel):
    provider: Literal["piper", "espeak", "cartesia"] = "piper"
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="For 'cartesia': voiceId (required), model, speed (0.6-1.5), volume (0.5-2.0), emotion.",
    )

    @model_validator(mode="after")
    def _options_fit(self) -> "TtsChoice":
        check_provider_options(self.provider, self.options)
        return self


Options = TypeVar("Options", bound=WriteModel)

# The providers whose options are checked (the embedded ones take none that matter).
PROVIDER_OPTIONS: dict[str, type[WriteModel]] = {"deepgram": DeepgramOptions, "cartesia": CartesiaOptions}


def check_provider_options(provider: str, options: dict[str, Any]) -> None:
    if (model := PROVIDER_OPTIONS.get(provider)) is not None:
        provider_options(model, provider, options)


def provider_options(model: type[Options], provider: str, options: dict[str, Any]) -> Options:
    """A provider's options, checked; ValueError naming each problem (``voiceId: Field required``)."""
    try:
        return model.model_validate(options)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise ValueError(f"provider {provider!r} options: {problems}") from None


class Providers(WriteModel):
    transport: Literal["local", "daily"] = "local"
    recording: Literal["off", "audio", "cloud"] = Field(
        default="off",
        description="'audio': the bot records the interview (stereo Ogg/Opus, candidate left, interviewer "
                    "right) and stores it beside the transcript; 'cloud': Daily only, Daily's cloud recording.",
    )
    stt: SttChoice = Field(default_factory=SttChoice)
    llm: LlmChoice = Field(default_factory=LlmChoice)
    tts: TtsChoice = Field(default_factory=TtsChoice)


class Scoring(WriteModel):
    """How analytics-svc scores a finished interview against the rubric."""

    scorer: Literal["heuristic", "llm"] = Field(
        default="heuristic",
        description="'heuristic': the embedded, transparent rules (question coverage, answer depth, expected "
                    "items by words and by meaning, follow-ups needed, speaking balance); 'llm': any "
                    "OpenAI-compatible endpoint with the organisation's 'openai' key.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="For 'llm': model (required), baseUrl (default OpenAI's), temperature.",
    )

    @model_validator(mode="after")
    def _model_named(self) -> "Scoring":
        if self.scorer == "llm" and not isinstance(self.options.get("model"), str):
            raise ValueError("scorer 'llm' needs options.model (e.g. 'gpt-4o-mini')")
        return self


class InterviewDefinition(WriteModel):
    """What the bot runs: the versioned part of a config."""

    bot_name: str = Field(min_length=1, max_length=80)
    persona: str = Field(min_length=1, max_length=10_000, description="The interviewer's system prompt.")
    greeting: str = Field(min_length=1, max_length=1000)
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")
    max_duration_minutes: int = Field(default=30, ge=1, le=240)
    idle_timeout_seconds: int = Field(default=30, ge=5, le=600)
    answer_pause_seconds: float | None = Field(
        default=None, ge=0.3, le=5.0,
        description="How long the candidate is silent before their answer counts as finished (people pause "
                    "between sentences; longer for thoughtful answers, shorter for a brisk screening). "
                    "Unset: the bot's default (1.2 s).",
    )
    link_valid_hours: int = Field(
        default=72, ge=1, le=24 * 30,
        description="How long the candidate's link stays valid after the session is started (invited), "
                    "unless the session sets its own joinDeadline.")
    questions: list[Question] = Field(min_length=1, max_length=50)
    rubric: Rubric
    scoring: Scoring = Field(default_factory=Scoring)
    providers: Providers = Field(default_factory=Providers)

    @model_validator(mode="after")
    def _unique_question_ids(self) -> "InterviewDefinition":
        ids = [q.id for q in self.questions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"question ids must be unique; repeated: {', '.join(dupes)}")
        return self


class ConfigCreate(InterviewDefinition):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    active: bool = True


class ConfigUpdate(WriteModel):
    """Any subset of a config's fields; every change bumps the version."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    active: bool | None = None
    bot_name: str | None = Field(default=None, min_length=1, max_length=80)
    persona: str | None = Field(default=None, min_length=1, max_length=10_000)
    greeting: str | None = Field(default=None, min_length=1, max_length=1000)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")
    max_duration_minutes: int | None = Field(default=None, ge=1, le=240)
    idle_timeout_seconds: int | None = Field(default=None, ge=5, le=600)
    answer_pause_seconds: float | None = Field(default=None, ge=0.3, le=5.0)
    link_valid_hours: int | None = Field(default=None, ge=1, le=24 * 30)
    questions: list[Question] | None = Field(default=None, min_length=1, max_length=50)
    rubric: Rubric | None = None
    scoring: Scoring | None = None
    providers: Providers | None = None

    @model_validator(mode="after")
    def _no_explicit_nulls(self) -> "ConfigUpdate":
        nulls = sorted(to_camel(f) for f in self.model_fields_set if getattr(self, f) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null: omit a field to keep its value")
        return self


class ConfigPublic(InterviewDefinition):
    model_config = ApiModel.model_config

    id: UUID
    org_id: UUID
    name: str
    description: str
    active: bool
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class ConfigVersionPublic(ApiModel):
    """One stored version of a config, as a session runs it."""

    config_id: UUID
    version: int
    definition: InterviewDefinition
    created_at: datetime
