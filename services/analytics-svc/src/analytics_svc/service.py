"""analytics-svc's use cases: score each final transcript (and each later revision) against the rubric of
the config version the session ran, rescore on request keeping every version, reviews and agreement."""

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Literal
from uuid import UUID, uuid4

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_svc import repository
from analytics_svc.models import AnalyticsRow, ReviewRow
from analytics_svc.scoring import heuristic, interview, llm
from analytics_svc.scoring.meaning import Meaning
from analytics_svc.scoring.scored import Scored, ScoringFailed
from analytics_svc.settings import SCHEMA, AnalyticsSettings
from voice_shared.api.access import Access, allows
from voice_shared.api.analytics import (
    Agreement,
    AnalyticsPublic,
    AnalyticsResult,
    CriterionAgreement,
    Provenance,
    ReviewCreate,
    ReviewPublic,
    Scorer,
)
from voice_shared.contracts import (
    AnalyticsCompleted,
    AnalyticsFailed,
    AnalyticsReviewed,
    TranscriptCompleted,
    TranscriptDeleted,
    envelope,
)
from voice_shared.db import SessionMaker, transaction
from voice_shared.errors import Forbidden, NotFound, ServiceUnavailable, ValidationFailed
from voice_shared.internal_api import ServiceApiError, SessionApi, TranscriptApi
from voice_shared.outbox import add_to_outbox, claim_inbox
from voice_shared.session_access import Caller, SessionAccessClient

log = structlog.get_logger()

Trigger = Literal["transcript", "revision", "rescore"]


@dataclass(frozen=True)
class Sources:
    """What scoring reads from and runs with."""

    sessions: SessionApi  # the plan of the session's config version; the org's openai key
    transcripts: TranscriptApi
    llm_http: httpx.AsyncClient
    meaning: Meaning
    settings: AnalyticsSettings


class SourcesUnavailable(ServiceUnavailable):
    code = "dependency_unavailable"


class NothingToScore(Exception):
    """The session, its plan or its transcript is gone (deleted meanwhile)."""


async def on_transcript_completed(
    db: SessionMaker, sources: Sources, org_id: UUID, event: TranscriptCompleted, consumer: str, event_id: UUID,
    correlation_id: str | None,
) -> AnalyticsRow | None:
    """Score a new transcript revision (once: redelivery and older revisions change nothing)."""
    async with transaction(db, org_id) as tx:
        if await repository.is_erased(tx, event.session_id) or \
                await repository.scored_revision(tx, event.session_id) >= event.revision:
            skip = True
        else:
            skip = event.candidate_word_count == 0
    row = None
    if not skip:
        try:
            row = await _score(sources, org_id, event.session_id, None, "transcript" if event.revision == 1
                               else "revision", None)
        except NothingToScore:
            log.info("analytics_nothing_to_score", session_id=str(event.session_id))
    async with transaction(db, org_id) as tx:
        if not await claim_inbox(tx, SCHEMA, consumer, event_id):
            return None
        if row is None:
            return None
        await repository.lock_session(tx, event.session_id)
        if await repository.is_erased(tx, event.session_id) or \
                await repository.scored_revision(tx, event.session_id) >= row.transcript_revision:
            return None  # scored meanwhile by another delivery, or deleted
        await _save(tx, row, correlation_id)
    return row


async def rescore(
    db: SessionMaker, sources: Sources, access: SessionAccessClient, caller: Caller, org_id: UUID,
    session_id: UUID, scorer: Scorer | None,
) -> AnalyticsPublic:
    """Score the session again (another scorer if asked) as a new version; every earlier one stays."""
    granted = await _require(access, caller, org_id, session_id, "manage")
    async with transaction(db, org_id) as tx:
        if await repository.is_erased(tx, session_id):
            raise _not_found()
    try:
        row = await _score(sources, org_id, session_id, scorer, "rescore", caller.principal.sub)
    except NothingToScore as e:
        raise NotFound("The session has no final transcript to score yet.", code="transcript_not_found") from e
    except ServiceApiError as e:
        raise SourcesUnavailable(f"Scoring reads the session's plan and transcript, and {e}; try again "
                                 "shortly.") from e
    async with transaction(db, org_id) as tx:
        await repository.lock_session(tx, session_id)
        if await repository.is_erased(tx, session_id):
            raise _not_found()
        await _save(tx, row, caller.correlation_id)
    return _public(row, [], granted)


async def _score(
    sources: Sources, org_id: UUID, session_id: UUID, scorer: Scorer | None, trigger: Trigger,
    requested_by: str | None,
) -> AnalyticsRow:
    """Read the plan and the transcript, score them, and return the version to store (scored or failed)."""
    plan = await sources.sessions.plan(org_id, session_id)
    transcript = await sources.transcripts.transcript(org_id, session_id) if plan else None
    if plan is None or transcript is None:
        raise NothingToScore
    read = interview.read(transcript, plan.definition, plan.config_id, plan.config_version)
    scoring = plan.definition.scoring
    chosen: Scorer = scorer or scoring.scorer
    started = time.perf_counter()
    scored: Scored | None = None
    error: ScoringFailed | None = None
    try:
        if chosen == "heuristic":
            scored = await asyncio.to_thread(heuristic.score, read, sources.meaning)
        else:
            scored = await _score_llm(sources, org_id, read, scoring.options)
    except ScoringFailed as e:
        error = e
        log.warning("analytics_scoring_failed", scorer=chosen, code=e.code, error=e.message)
    elapsed = int((time.perf_counter() - started) * 1000)
    rubric = plan.definition.rubric.model_dump(mode="json")
    provenance = Provenance(
        scorer=chosen, scorer_version=scored.scorer_version if scored else _version_of(chosen),
        model=scored.model if scored else scoring.options.get("model") if chosen == "llm" else None,
        base_url_host=scored.base_url_host if scored else None, prompt_hash=scored.prompt_hash if scored else None,
        rubric_hash=hashlib.sha256(json.dumps(rubric, sort_keys=True).encode()).hexdigest(),
        config_id=plan.config_id, config_version=plan.config_version, transcript_id=transcript.id,
        transcript_revision=transcript.revision, processing_ms=elapsed,
        attempts=scored.attempts if scored else error.attempts if error else 0,
        quotes_dropped=scored.quotes_dropped if scored else 0,
    )
    return AnalyticsRow(
        id=uuid4(), org_id=org_id, session_id=session_id, version=0, status="scored" if scored else "failed",
        error=str(error) if error else None, trigger=trigger, requested_by=requested_by,
        overall_score=scored.result.overall_score if scored else None,
        result=scored.result.model_dump(mode="json") if scored else None,
        provenance=provenance.model_dump(mode="json"), transcript_revision=transcript.revision,
        config_id=plan.config_id,
    )


async def _score_llm(sources: Sources, org_id: UUID, read: interview.Interview, options: dict[str, object]) -> Scored:
    if not isinstance(options.get("model"), str):
        raise ScoringFailed("invalid_config", "the config's scoring names no LLM model (scoring.options.model)", 0)
    key = await sources.sessions.credential(org_id, "openai")
    if key is None:
        raise ScoringFailed("credential_missing", "the organisation has no 'openai' credential for the LLM scorer", 0)
    endpoint = llm.LlmEndpoint.of(dict(options), key, sources.settings.llm_timeout_seconds)
    return await llm.score(read, endpoint, sources.llm_http)


def _version_of(scorer: Scorer) -> str:
    return heuristic.SCORER_VERSION if scorer == "heuristic" else llm.SCORER_VERSION


async def _save(tx: AsyncSession, row: AnalyticsRow, correlation_id: str | None) -> None:
    await repository.add_version(tx, row)
    event: AnalyticsCompleted | AnalyticsFailed
    if row.status == "scored":
        assert row.overall_score is not None
        event = AnalyticsCompleted(session_id=row.session_id, analytics_id=row.id, analytics_version=row.version,
                                   overall_score=row.overall_score, scorer=row.provenance["scorer"],
                                   transcript_revision=row.transcript_revision)
    else:
        event = AnalyticsFailed(session_id=row.session_id, analytics_id=row.id, analytics_version=row.version,
                                scorer=row.provenance["scorer"], error=(row.error or "")[:1000])
    await add_to_outbox(tx, SCHEMA, envelope(event, org_id=row.org_id, session_id=row.session_id,
                                             correlation_id=correlation_id))
    log.info("analytics_stored", session_id=str(row.session_id), version=row.version, status=row.status,
             score=row.overall_score, processing_ms=row.provenance["processing_ms"])


async def forget(db: SessionMaker, org_id: UUID, event: TranscriptDeleted, consumer: str, event_id: UUID) -> None:
    """The transcript is gone: so is everything scored from it, and nothing later brings it back."""
    async with transaction(db, org_id) as tx:
        if not await claim_inbox(tx, SCHEMA, consumer, event_id):
            return
        await repository.lock_session(tx, event.session_id)
        versions = await repository.forget(tx, org_id, event.session_id)
    log.info("analytics_forgotten", session_id=str(event.session_id), reason=event.reason, versions=versions)


# --- reading and reviewing ---------------------------------------------------------------------


def _not_found() -> NotFound:
    return NotFound("No analytics for this session.", code="analytics_not_found")


async def _require(
    access: SessionAccessClient, caller: Caller, org_id: UUID, session_id: UUID, needed: Access
) -> Access:
    if not caller.principal.is_member(org_id):
        raise _not_found()
    granted = await access.of(caller.authorization, org_id, session_id, caller.correlation_id)
    if granted is None:
        raise _not_found()
    if not allows(granted, needed):
        raise Forbidden(f"This needs '{needed}' access to the session; you have '{granted}'.",
                        code="insufficient_access")
    return granted


def _review(row: ReviewRow) -> ReviewPublic:
    return ReviewPublic.model_validate(row.model_dump())


def _public(row: AnalyticsRow, reviews: list[ReviewRow], _: Access | None = None) -> AnalyticsPublic:
    return AnalyticsPublic.model_validate({
        **row.model_dump(), "result": AnalyticsResult.model_validate(row.result) if row.result else None,
        "provenance": Provenance.model_validate(row.provenance),
        "reviews": [_review(r) for r in reviews if r.analytics_id == row.id],
    })


async def current(
    db: SessionMaker, access: SessionAccessClient, caller: Caller, org_id: UUID, session_id: UUID
) -> AnalyticsPublic:
    """The session's current analytics with its reviews ('view_analytics' access or more)."""
    await _require(access, caller, org_id, session_id, "view_analytics")
    async with transaction(db, org_id) as tx:
        row = await repository.current(tx, session_id)
        reviews = await repository.reviews(tx, session_id) if row else []
    if row is None:
        raise _not_found()
    return _public(row, reviews)


async def versions(
    db: SessionMaker, access: SessionAccessClient, caller: Caller, org_id: UUID, session_id: UUID
) -> list[AnalyticsPublic]:
    """Every version, newest first: scored ones and recorded failures, each with its provenance."""
    await _require(access, caller, org_id, session_id, "view_analytics")
    async with transaction(db, org_id) as tx:
        rows = await repository.versions(tx, session_id)
        reviews = await repository.reviews(tx, session_id)
    return [_public(r, reviews) for r in rows]


async def reviews(
    db: SessionMaker, access: SessionAccessClient, caller: Caller, org_id: UUID, session_id: UUID
) -> list[ReviewPublic]:
    await _require(access, caller, org_id, session_id, "view_analytics")
    async with transaction(db, org_id) as tx:
        return [_review(r) for r in await repository.reviews(tx, session_id)]


async def add_review(
    db: SessionMaker, access: SessionAccessClient, caller: Caller, org_id: UUID, session_id: UUID,
    body: ReviewCreate,
) -> ReviewPublic:
    """A reviewer's scores and notes per criterion and maybe a decision, on the current analytics; the
    AI's scores stay as they are beside it."""
    await _require(access, caller, org_id, session_id, "view_analytics")
    async with transaction(db, org_id) as tx:
        await repository.lock_session(tx, session_id)
        analytics = await repository.current(tx, session_id)
        if analytics is None or analytics.result is None:
            raise _not_found()
        _check_review(AnalyticsResult.model_validate(analytics.result), body)
        row = ReviewRow(id=uuid4(), org_id=org_id, session_id=session_id, analytics_id=analytics.id,
                        reviewer=caller.principal.sub, criteria=[c.model_dump(mode="json") for c in body.criteria],
                        decision=body.decision, note=body.note)
        await repository.add_review(tx, row)
        await add_to_outbox(tx, SCHEMA, envelope(
            AnalyticsReviewed(session_id=session_id, review_id=row.id, analytics_id=analytics.id,
                              decision=body.decision, reviewer=caller.principal.sub[:200]),
            org_id=org_id, session_id=session_id, correlation_id=caller.correlation_id,
        ))
        await tx.refresh(row)
    return _review(row)


def _check_review(result: AnalyticsResult, body: ReviewCreate) -> None:
    scales = {c.criterion_id: c.scale for c in result.criteria}
    seen: set[str] = set()
    for c in body.criteria:
        if c.criterion_id not in scales:
            raise ValidationFailed(f"criterion {c.criterion_id!r} is not in this rubric; it has: "
                                f"{', '.join(scales)}.", code="unknown_criterion")
        if c.criterion_id in seen:
            raise ValidationFailed(f"criterion {c.criterion_id!r} is reviewed twice.", code="duplicate_criterion")
        seen.add(c.criterion_id)
        if scales[c.criterion_id] == "1-5" and not (1 <= c.score <= 5):
            raise ValidationFailed(f"criterion {c.criterion_id!r} is scored 1-5 (it has level anchors); got {c.score}.",
                                code="score_out_of_scale")
    if not body.criteria and body.decision is None and not body.note:
        raise ValidationFailed("A review needs criterion scores, a decision or a note.", code="empty_review")


def _to_100(score: float, scale: str) -> float:
    return (score - 1) * 25 if scale == "1-5" else score


async def agreement(db: SessionMaker, caller: Caller, org_id: UUID, config_id: UUID | None) -> Agreement:
    """How far reviewers' criterion scores are from the AI's they reviewed (org admins: it spans sessions)."""
    if not caller.principal.is_member(org_id):
        raise NotFound("No such organisation.", code="org_not_found")
    if not caller.principal.is_org_admin(org_id):
        raise Forbidden("Agreement across sessions is for org admins and owners.", code="admin_required")
    async with transaction(db, org_id) as tx:
        pairs = await repository.reviewed_current(tx, config_id)
    diffs: dict[str, list[float]] = {}
    for analytics, review in pairs:
        if analytics.result is None:
            continue
        ai = {c["criterion_id"]: c for c in analytics.result["criteria"]}
        for c in review.criteria:
            if (mine := ai.get(c["criterion_id"])) is not None:
                diffs.setdefault(c["criterion_id"], []).append(
                    abs(_to_100(float(c["score"]), mine["scale"]) - float(mine["score_100"])))
    every = [d for ds in diffs.values() for d in ds]
    return Agreement(
        count=len(every), reviews=len(pairs),
        mean_absolute_difference=round(sum(every) / len(every), 2) if every else None,
        criteria=[CriterionAgreement(criterion_id=cid, count=len(ds),
                                     mean_absolute_difference=round(sum(ds) / len(ds), 2))
                  for cid, ds in sorted(diffs.items())],
    )
