"""Analytics: a session scored against its config's rubric, how each number was made, and reviews."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from voice_shared.api.access import Access
from voice_shared.api.common import ApiModel, Slug, WriteModel
from voice_shared.contracts import SessionStatus

Scorer = Literal["heuristic", "llm"]
Decision = Literal["advance", "hold", "reject"]
MatchedBy = Literal["words", "sound", "meaning"]


class Evidence(ApiModel):
    """A verbatim quote of the transcript and the segment it is in."""

    sequence: int = Field(ge=0, description="The segment's sequence number.")
    quote: str = Field(description="Verbatim from the segment's text.")


class Rule(ApiModel):
    """One transparent rule's part in a score (heuristic scorer): what it measured and what it added."""

    rule: Literal["coverage", "depth", "independence", "balance", "answered"]
    value: float = Field(ge=0, le=1, description="What the rule measured, 0-1.")
    weight: float = Field(ge=0, le=1, description="Its share of the score.")
    points: float = Field(ge=0, le=100, description="value × weight × 100: what it added to the 0-100 score.")
    detail: str = Field(description="In words, e.g. '2 of 3 expected items covered'.")


class CriterionResult(ApiModel):
    criterion_id: str
    name: str
    weight: float
    scale: Literal["1-5", "0-100"] = Field(description="1-5 where the criterion has level anchors, else 0-100.")
    score: float = Field(description="On the criterion's scale.")
    score_100: float = Field(ge=0, le=100, description="The score mapped to 0-100 (1-5: (score-1) × 25).")
    feedback: str
    evidence: list[Evidence] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list, description="The heuristic's rules, each with its part.")
    question_ids: list[str] = Field(default_factory=list, description="The planned questions it was judged on.")


class ItemMatch(ApiModel):
    """An expected item a question's answers covered, and how the match was made."""

    item: str
    matched_by: MatchedBy = Field(description="'words': the words (stemmed); 'sound': a sound-alike speech-to-text "
                                              "slip ('cash layer'); 'meaning': the embedding model.")
    sequence: int
    quote: str
    similarity: float | None = Field(default=None, description="For 'meaning': how far above chance (z-score).")


class QuestionResult(ApiModel):
    question_id: str
    asked: bool
    answered: bool
    answer_words: int = Field(ge=0)
    follow_ups: int = Field(ge=0, description="Follow-ups the interviewer asked on it.")
    covered: list[ItemMatch] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list, description="Expected items no answer covered.")
    quality: float | None = Field(default=None, ge=0, le=1, description="Heuristic: the question's 0-1 quality.")


class KeyMoment(ApiModel):
    at_ms: int = Field(ge=0, description="On the interview clock (as segments and the recording).")
    kind: Literal["strength", "concern", "highlight"]
    description: str
    quote: str
    sequence: int


class AnalyticsResult(ApiModel):
    overall_score: float = Field(ge=0, le=100, description="The criteria's 0-100 scores, weighted by their weights.")
    criteria: list[CriterionResult]
    strengths: list[str]
    weaknesses: list[str]
    recommendations: list[str]
    key_moments: list[KeyMoment]
    summary: str
    questions: list[QuestionResult]
    follow_ups_needed: int = Field(ge=0)
    speaking_balance: float = Field(ge=0, le=1, description="The candidate's share of the words spoken.")
    flags: list[str] = Field(default_factory=list,
                             description="e.g. 'instruction_in_transcript', 'incomplete_interview'.")


class Provenance(ApiModel):
    """How the result was made, so every number can be traced."""

    scorer: Scorer
    scorer_version: str
    model: str | None = None
    base_url_host: str | None = None
    prompt_hash: str | None = Field(default=None, description="sha256 of the prompt template and the schema (llm).")
    rubric_hash: str = Field(description="sha256 of the rubric as scored.")
    config_id: UUID
    config_version: int
    transcript_id: UUID
    transcript_revision: int
    processing_ms: int = Field(ge=0)
    attempts: int = Field(default=1, ge=0)
    quotes_dropped: int = Field(default=0, ge=0, description="Quotes the LLM gave that are not in the transcript.")


class CriterionReview(WriteModel):
    criterion_id: Slug
    score: float = Field(ge=0, le=100, description="On the criterion's scale (1-5 where it has level anchors).")
    note: str = Field(default="", max_length=2000)


class ReviewCreate(WriteModel):
    criteria: list[CriterionReview] = Field(default_factory=list, max_length=20)
    decision: Decision | None = None
    note: str = Field(default="", max_length=5000)


class ReviewPublic(ApiModel):
    id: UUID
    session_id: UUID
    analytics_id: UUID
    reviewer: str
    criteria: list[CriterionReview]
    decision: Decision | None
    note: str
    created_at: datetime


class AnalyticsPublic(ApiModel):
    id: UUID
    org_id: UUID
    session_id: UUID
    version: int
    current: bool = Field(description="The session's current analytics (the newest scored version).")
    status: Literal["scored", "failed"]
    error: str | None = Field(default=None, description="Why a failed version failed.")
    trigger: Literal["transcript", "revision", "rescore"]
    requested_by: str | None = Field(default=None, description="Who asked for a rescore.")
    result: AnalyticsResult | None = None
    provenance: Provenance
    reviews: list[ReviewPublic] = Field(default_factory=list)
    created_at: datetime


class RescoreRequest(WriteModel):
    scorer: Scorer | None = Field(default=None, description="Default: the config's.")


class CriterionAgreement(ApiModel):
    criterion_id: str
    count: int
    mean_absolute_difference: float | None = Field(description="On the 0-100 scale.")


class Agreement(ApiModel):
    """How far reviewers' scores are from the AI's, on the 0-100 scale."""

    count: int = Field(description="Criterion scores compared.")
    reviews: int
    mean_absolute_difference: float | None
    criteria: list[CriterionAgreement]


DecisionFilter = Literal["advance", "hold", "reject", "none"]  # 'none': no decision yet


class AnalyticsListItem(ApiModel):
    """A session's current analytics in a list, with the session (what session-svc knows of both)."""

    session_id: UUID = Field(description="The session scored.")
    analytics_id: UUID = Field(description="Its current analytics (the highest version scored).")
    analytics_version: int = Field(ge=1, description="1 for the first scoring; up by one each rescoring.")
    overall_score: float = Field(ge=0, le=100, description="Overall score 0-100.")
    scorer: Scorer = Field(description="How it was scored.")
    decision: Decision | None = Field(description="The newest decision reviewers made; null while none has.")
    reviewed_at: datetime | None = Field(description="When it was last reviewed (with a decision or not).")
    scored_at: datetime = Field(description="When the current analytics were scored.")
    config_id: UUID = Field(description="The session's interview config.")
    config_version: int = Field(ge=1, description="The config version the session ran.")
    candidate_name: str
    candidate_email: str
    session_status: SessionStatus = Field(description="The session's status now.")
    access: Access = Field(description="The caller's access to the session.")
