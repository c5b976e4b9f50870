"""The final transcript over the real bus: made once when the session ends, whatever the order and
duplication of what arrives, revised by late segments, archived in the object store, announced."""

import asyncio
import json
import random
import uuid
from typing import Any
from uuid import UUID

import pytest

from transcript_svc.app import create_app
from transcript_svc.settings import SCHEMA, TranscriptSettings
from voice_shared.api.transcripts import TranscriptPublic
from voice_shared.bus import subscription
from voice_shared.contracts import Envelope, SessionEnded, envelope
from voice_shared.objects import LocalObjectStore
from voice_shared.session_access import Caller

pytestmark = pytest.mark.integration

SEGMENTS = subscription("transcript-svc", "segments").consumer
FINALISE = subscription("transcript-svc", "finalise").consumer


def ended(org: UUID, sid: UUID, status: str = "completed", reason: str = "plan_complete") -> Envelope:
    return envelope(SessionEnded(session_id=sid, status=status, reason=reason, duration_seconds=12.5),  # type: ignore[arg-type]
                    org_id=org, session_id=sid, correlation_id=uuid.uuid4().hex)


def payload(event: dict[str, Any]) -> dict[str, Any]:
    return event["payload"]  # type: ignore[no-any-return]


async def archived(platform_env: dict[str, str], key: str) -> bytes:
    return await LocalObjectStore(platform_env["object_store_dir"]).get(key)


async def test_the_session_end_finalises_every_segment_in_order_and_archives_it(  # type: ignore[no-untyped-def]
    transcript_svc_app, publish, segment_event, event_log, handled, platform_env
) -> None:
    org, sid = uuid.uuid4(), uuid.uuid4()
    events = [
        segment_event(org, sid, 0, speaker="bot", text="Hello, I'm Ada.", start_ms=0, end_ms=1500, kind="greeting"),
        segment_event(org, sid, 1, speaker="bot", text="Tell me about a system you built.", start_ms=2000,
                      end_ms=4000, question_id="intro", follow_up_index=0, kind="question"),
        segment_event(org, sid, 2, speaker="candidate", text="I built a", start_ms=4500, end_ms=6000,
                      question_id="intro", follow_up_index=0, kind="answer", final=False),
        segment_event(org, sid, 2, speaker="candidate", text="I built a payments platform in Go.", start_ms=4500,
                      end_ms=8500, question_id="intro", follow_up_index=0, kind="answer"),
        segment_event(org, sid, 3, speaker="bot", text="What broke first?", start_ms=9000, end_ms=10000,
                      question_id="intro", follow_up_index=1, kind="follow_up"),
    ]
    shuffled = [*events, events[1], events[4]]  # duplicates, in any order
    random.Random(7).shuffle(shuffled)
    for env in shuffled:
        await publish(env)
    await handled(SCHEMA, SEGMENTS, *(e.event_id for e in events))

    await publish(ended(org, sid))
    (completed,) = await event_log.wait_for(sid, "transcript.completed")

    p = payload(completed)
    assert (p["revision"], p["session_status"], p["segment_count"]) == (1, "completed", 4)
    assert (p["word_count"], p["candidate_word_count"], p["duration_ms"]) == (3 + 7 + 7 + 3, 7, 10000)
    day = completed["occurred_at"][:10].replace("-", "/")
    assert p["object_keys"] == {fmt: f"transcripts/{org}/{day}/{sid}.{fmt}" for fmt in ("json", "txt", "vtt")}
    assert completed["org_id"] == str(org)

    record = TranscriptPublic.model_validate(json.loads(await archived(platform_env, p["object_keys"]["json"])))
    assert str(record.id) == p["transcript_id"] and record.revision == 1
    assert [(s.sequence, s.role, s.text, s.question_id, s.follow_up_index) for s in record.segments] == [
        (0, "interviewer", "Hello, I'm Ada.", None, None),
        (1, "interviewer", "Tell me about a system you built.", "intro", 0),
        (2, "candidate", "I built a payments platform in Go.", "intro", 0),
        (3, "interviewer", "What broke first?", "intro", 1),
    ]
    assert record.speakers["candidate"].talk_ms == 4000 and record.speakers["interviewer"].talk_ms == 4500
    assert record.text is not None and record.text.splitlines()[2] == "Candidate: I built a payments platform in Go."
    vtt = (await archived(platform_env, p["object_keys"]["vtt"])).decode()
    assert "00:00:04.500 --> 00:00:08.500\n<v Candidate>I built a payments platform in Go." in vtt
    txt = (await archived(platform_env, p["object_keys"]["txt"])).decode()
    assert "[00:09] Interviewer: What broke first?" in txt


async def test_finalised_once_under_redelivery_then_revised_by_late_segments(  # type: ignore[no-untyped-def]
    transcript_svc_app, publish, segment_event, event_log, handled, platform_env
) -> None:
    org, sid = uuid.uuid4(), uuid.uuid4()
    first = segment_event(org, sid, 0, speaker="bot", text="Welcome.")
    await publish(first)
    await handled(SCHEMA, SEGMENTS, first.event_id)
    end, end_again = ended(org, sid, "cancelled", "cancelled"), ended(org, sid, "failed", "bot_lost")
    for env in (end, end, end_again):  # a redelivery, then a second terminal event
        await publish(env)
    await handled(SCHEMA, FINALISE, end.event_id, end_again.event_id)

    late = segment_event(org, sid, 1, speaker="candidate", text="Sorry, I was cut off.")
    await publish(late)
    await publish(late)  # the late segment redelivered
    await handled(SCHEMA, SEGMENTS, late.event_id)
    unchanged = segment_event(org, sid, 0, speaker="bot", text="Welcome again.")  # an older sequence: kept
    await publish(unchanged)
    await handled(SCHEMA, SEGMENTS, unchanged.event_id)
    marker = segment_event(org, sid, 2, speaker="bot", text="Goodbye.")
    await publish(marker)

    # The outbox publishes in order: when revision 3 is seen, anything before it has been too.
    revisions = await event_log.wait_for(sid, "transcript.completed", count=3)
    await asyncio.sleep(0.3)
    revisions = event_log.of(sid, "transcript.completed")
    assert [payload(e)["revision"] for e in revisions] == [1, 2, 3]
    assert [payload(e)["segment_count"] for e in revisions] == [1, 2, 3]
    assert {payload(e)["transcript_id"] for e in revisions} == {payload(revisions[0])["transcript_id"]}
    assert {payload(e)["session_status"] for e in revisions} == {"cancelled"}  # the first end decides
    assert len({json.dumps(payload(e)["object_keys"]) for e in revisions}) == 1  # same keys, new content
    record = TranscriptPublic.model_validate(
        json.loads(await archived(platform_env, payload(revisions[-1])["object_keys"]["json"])))
    assert (record.revision, [s.text for s in record.segments]) == (
        3, ["Welcome.", "Sorry, I was cut off.", "Goodbye."])


@pytest.mark.parametrize("status", ["failed", "cancelled"])
async def test_every_terminal_status_finalises_even_with_no_segments(  # type: ignore[no-untyped-def]
    transcript_svc_app, publish, event_log, status
) -> None:
    org, sid = uuid.uuid4(), uuid.uuid4()
    await publish(ended(org, sid, status, "candidate_no_show"))
    (completed,) = await event_log.wait_for(sid, "transcript.completed")
    p = payload(completed)
    assert (p["revision"], p["session_status"], p["segment_count"], p["word_count"]) == (1, status, 0, 0)


async def test_two_processes_finalise_each_session_exactly_once(  # type: ignore[no-untyped-def]
    transcript_svc_app, platform_env, publish, segment_event, event_log
) -> None:
    """Two transcript-svc processes on the same queues, segments racing the session's end."""
    other = create_app(TranscriptSettings(**platform_env))  # type: ignore[arg-type]
    org = uuid.uuid4()
    sessions = [uuid.uuid4() for _ in range(12)]
    async with other.router.lifespan_context(other):
        batch: list[Envelope] = []
        for sid in sessions:
            batch += [segment_event(org, sid, n) for n in range(4)]
            end = ended(org, sid)
            batch += [end, end]
        random.Random(3).shuffle(batch)
        await asyncio.gather(*(publish(env) for env in batch))
        for sid in sessions:
            await event_log.wait_for(sid, "transcript.completed", timeout=20)
        await asyncio.sleep(1.0)  # any duplicate or late revision is published by now

    for sid in sessions:
        # Two relays publish side by side, so revisions may arrive out of order (consumers keep the
        # highest): each revision exactly once, and the highest holds every segment.
        revisions = sorted((payload(e) for e in event_log.of(sid, "transcript.completed")),
                           key=lambda r: r["revision"])
        assert [r["revision"] for r in revisions] == list(range(1, len(revisions) + 1)), sid
        assert revisions[-1]["segment_count"] == 4


async def test_archived_to_s3_with_a_version_per_revision(  # type: ignore[no-untyped-def]
    transcript_svc_app, moto_s3, s3_bucket, segment_event
) -> None:
    """The service on moto's S3 (what AWS and MinIO speak): a prefix, and every revision kept as a version."""
    import boto3

    from transcript_svc import service
    from transcript_svc.archive import Archive
    from voice_shared.contracts import TranscriptSegment
    from voice_shared.objects import S3ObjectStore

    bucket = s3_bucket()
    store = S3ObjectStore(boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1"), bucket)
    archive, db = Archive(store, "prod/"), transcript_svc_app.state.sessions
    org, sid = uuid.uuid4(), uuid.uuid4()

    async def segment(n: int) -> None:
        env = segment_event(org, sid, n)
        await service.store_segment(db, archive, org, TranscriptSegment.model_validate(env.payload),
                                    SEGMENTS, env.event_id)

    await segment(0)
    end = ended(org, sid)
    row = await service.finalise(db, archive, org, SessionEnded.model_validate(end.payload), FINALISE, end.event_id)
    assert row is not None and row.object_keys["json"].startswith(f"prod/transcripts/{org}/")
    await segment(1)  # late: revision 2

    record = TranscriptPublic.model_validate(json.loads(await store.get(row.object_keys["json"])))
    assert (record.revision, len(record.segments)) == (2, 2)
    assert await store.versions(f"prod/transcripts/{org}/") == 6  # 3 formats x 2 revisions

    # An erasure (as for a candidate) deletes every version: nothing of the session is left in the bucket.
    from voice_shared.auth import Principal

    bot = Caller(Principal(sub="session-svc", service="session-svc"), "Bearer -", "erasure-test")
    removed = await service.erase_sessions(db, archive, bot, org, [sid])
    assert (removed.transcripts, removed.segments, removed.object_versions) == (1, 2, 6)
    assert await store.versions(f"prod/transcripts/{org}/") == 0
