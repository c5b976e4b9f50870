"""Retention: the sweeper removes each record past its org's retention (rows and every object
version), announces it, and what arrives for the session afterwards is dropped."""

import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from transcript_svc.settings import SCHEMA
from voice_shared.bus import subscription
from voice_shared.contracts import Envelope, OrgSettingsUpdated, SessionEnded, envelope
from voice_shared.db import make_engine
from voice_shared.objects import LocalObjectStore

pytestmark = pytest.mark.integration

SEGMENTS = subscription("transcript-svc", "segments").consumer
FINALISE = subscription("transcript-svc", "finalise").consumer
RETENTION = subscription("transcript-svc", "retention").consumer


async def backdate(platform_env: dict[str, str], session_id: UUID, days: int) -> None:
    """Make the session's record ``days`` old, as the superuser (Row Level Security does not apply)."""
    url = make_url(platform_env["database_url"]).set(username="postgres")
    engine = make_engine(url.render_as_string(hide_password=False), pool_size=1)
    when = datetime.now(UTC) - timedelta(days=days)
    async with engine.begin() as conn:
        for table, column in (("transcripts", "created_at"), ("transcript_segments", "stored_at")):
            await conn.execute(text(f"UPDATE {SCHEMA}.{table} SET {column} = :w WHERE session_id = :s"),
                               {"w": when, "s": session_id})
    await engine.dispose()


async def counts(platform_env: dict[str, str], session_id: UUID) -> list[int]:
    url = make_url(platform_env["database_url"]).set(username="postgres")
    engine = make_engine(url.render_as_string(hide_password=False), pool_size=1)
    async with engine.connect() as conn:
        found = [(await conn.execute(text(f"SELECT count(*) FROM {SCHEMA}.{t} WHERE session_id = :s"),
                                     {"s": session_id})).scalar_one() for t in ("transcripts", "transcript_segments")]
    await engine.dispose()
    return found


async def record(publish, segment_event, handled, event_log, org: UUID, segments: int = 2) -> tuple[UUID, dict]:  # type: ignore[no-untyped-def, type-arg]
    sid = uuid.uuid4()
    said = [segment_event(org, sid, n) for n in range(segments)]
    for env in said:
        await publish(env)
    await handled(SCHEMA, SEGMENTS, *(e.event_id for e in said))
    end = envelope(SessionEnded(session_id=sid, status="completed", reason="plan_complete"), org_id=org, session_id=sid)
    await publish(end)
    (completed,) = await event_log.wait_for(sid, "transcript.completed")
    return sid, completed["payload"]


def policy(org: UUID, days: int) -> Envelope:
    return envelope(OrgSettingsUpdated(retention_days=days), org_id=org)


async def test_records_past_their_orgs_retention_go_and_stay_gone(  # type: ignore[no-untyped-def]
    transcript_svc_app, platform_env, publish, segment_event, handled, event_log
) -> None:
    strict, lenient = uuid.uuid4(), uuid.uuid4()
    await publish(set_30 := policy(strict, 30))
    await handled(SCHEMA, RETENTION, set_30.event_id)
    expired, expired_payload = await record(publish, segment_event, handled, event_log, strict)
    kept_strict, _ = await record(publish, segment_event, handled, event_log, strict)
    kept_default, _ = await record(publish, segment_event, handled, event_log, lenient)
    await backdate(platform_env, expired, 31)
    await backdate(platform_env, kept_strict, 29)
    await backdate(platform_env, kept_default, 60)  # under the default of 90 days
    orphan = uuid.uuid4()  # segments of a session that never ended here
    stray = segment_event(lenient, orphan, 0)
    await publish(stray)
    await handled(SCHEMA, SEGMENTS, stray.event_id)
    await backdate(platform_env, orphan, 91)

    await transcript_svc_app.state.sweeper.sweep()

    assert await counts(platform_env, expired) == [0, 0]
    assert await counts(platform_env, orphan) == [0, 0]
    assert await counts(platform_env, kept_strict) == [1, 2] and await counts(platform_env, kept_default) == [1, 2]
    store = LocalObjectStore(platform_env["object_store_dir"])
    assert all([await store.versions(key) == 0 for key in expired_payload["object_keys"].values()])
    (deleted,) = await event_log.wait_for(expired, "transcript.deleted")
    assert deleted["payload"] == {"session_id": str(expired), "transcript_id": expired_payload["transcript_id"],
                                  "reason": "retention"}
    (gone,) = await event_log.wait_for(orphan, "transcript.deleted")
    assert gone["payload"]["transcript_id"] is None

    # A late segment or a second end for an expired session brings nothing back.
    late = segment_event(strict, expired, 5)
    again = envelope(SessionEnded(session_id=expired, status="completed", reason="plan_complete"),
                     org_id=strict, session_id=expired)
    await publish(late)
    await publish(again)
    await handled(SCHEMA, SEGMENTS, late.event_id)
    await handled(SCHEMA, FINALISE, again.event_id)
    assert await counts(platform_env, expired) == [0, 0]
    assert await transcript_svc_app.state.sweeper.sweep() == 0


async def test_expiry_on_s3_leaves_no_object_version(  # type: ignore[no-untyped-def]
    transcript_svc_app, platform_env, moto_s3, s3_bucket, segment_event
) -> None:
    """The sweeper's removal on a versioned bucket (moto's server): every revision's versions go."""
    import boto3

    from transcript_svc import service
    from transcript_svc.archive import Archive
    from voice_shared.contracts import TranscriptSegment
    from voice_shared.objects import S3ObjectStore

    store = S3ObjectStore(boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1"), s3_bucket())
    archive, db = Archive(store), transcript_svc_app.state.sessions
    org, sid = uuid.uuid4(), uuid.uuid4()
    end = envelope(SessionEnded(session_id=sid, status="completed", reason="plan_complete"), org_id=org, session_id=sid)
    for n in range(2):
        env = segment_event(org, sid, n)
        await service.store_segment(db, archive, org, TranscriptSegment.model_validate(env.payload), SEGMENTS,
                                    env.event_id)
        if n == 0:
            await service.finalise(db, archive, org, SessionEnded.model_validate(end.payload), FINALISE, end.event_id)
    assert await store.versions(f"transcripts/{org}/") == 6  # two revisions of three files
    await backdate(platform_env, sid, 365)

    assert await service.sweep_once(db, archive, 90, 100) >= 1
    assert await store.versions(f"transcripts/{org}/") == 0
    assert await counts(platform_env, sid) == [0, 0]
