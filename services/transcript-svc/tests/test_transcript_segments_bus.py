"""Segments published on the real bus are stored by transcript-svc's consumer: every field, once per
event, in sequence order whatever the arrival order, a final one over an interim one, never across orgs."""

import asyncio
import uuid
from collections.abc import Callable
from typing import Any
from uuid import UUID

import aio_pika
import httpx
from sqlalchemy import text

from transcript_svc.settings import SCHEMA
from voice_shared.api.transcripts import SessionSegments
from voice_shared.bus import dead_letter_queue, subscription
from voice_shared.db import transaction
from voice_shared.testing import auth

CONSUMER = subscription("transcript-svc", "segments").consumer


async def segments(client: httpx.AsyncClient, bot_token: str, org: UUID, sid: UUID) -> SessionSegments:
    answer = await client.get(f"/internal/sessions/{sid}/segments?orgId={org}", headers=auth(bot_token))
    assert answer.status_code == 200, answer.text
    return SessionSegments.model_validate(answer.json())


async def wait_until(
    client: httpx.AsyncClient, bot_token: str, org: UUID, sid: UUID,
    done: Callable[[SessionSegments], bool], timeout: float = 10.0,  # noqa: ASYNC109
) -> SessionSegments:
    """Poll the endpoint until ``done`` holds for what it answers."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = await segments(client, bot_token, org, sid)
        if done(body):
            return body
        assert asyncio.get_running_loop().time() < deadline, f"still {body.model_dump()}"
        await asyncio.sleep(0.05)


def fields(body: SessionSegments) -> list[dict[str, Any]]:
    return [s.model_dump() for s in body.segments]


async def test_published_segments_are_stored_with_every_field(  # type: ignore[no-untyped-def]
    transcript_svc, token, publish, segment_event
) -> None:
    org, sid, bot = uuid.uuid4(), uuid.uuid4(), token(service="bot")
    greeting = segment_event(org, sid, 0, speaker="bot", text="Hello, I'm Ada.", start_ms=0, end_ms=1800,
                             kind="greeting")
    question = segment_event(org, sid, 1, speaker="bot", text="Tell me about a system you built.",
                             start_ms=2000, end_ms=4200, question_id="intro", follow_up_index=0, kind="question")
    answer = segment_event(org, sid, 2, speaker="candidate", text="I built a payments platform.",
                           start_ms=5000, end_ms=7500, question_id="intro", follow_up_index=0, kind="answer")
    for env in (greeting, question, answer):
        await publish(env)

    body = await wait_until(transcript_svc, bot, org, sid, lambda b: len(b.segments) == 3)

    assert body.session_id == sid and body.next_sequence == 3
    assert fields(body) == [
        {"sequence": 0, "speaker": "bot", "text": "Hello, I'm Ada.", "start_ms": 0, "end_ms": 1800,
         "question_id": None, "follow_up_index": None, "kind": "greeting", "final": True},
        {"sequence": 1, "speaker": "bot", "text": "Tell me about a system you built.", "start_ms": 2000,
         "end_ms": 4200, "question_id": "intro", "follow_up_index": 0, "kind": "question", "final": True},
        {"sequence": 2, "speaker": "candidate", "text": "I built a payments platform.", "start_ms": 5000,
         "end_ms": 7500, "question_id": "intro", "follow_up_index": 0, "kind": "answer", "final": True},
    ]
    # camelCase on the wire, as the bot parses it.
    raw = (await transcript_svc.get(f"/internal/sessions/{sid}/segments?orgId={org}", headers=auth(bot))).json()
    assert set(raw) == {"sessionId", "segments", "nextSequence"}
    assert set(raw["segments"][1]) == {"sequence", "speaker", "text", "startMs", "endMs", "questionId",
                                       "followUpIndex", "kind", "final"}


async def test_a_duplicate_delivery_is_stored_once(  # type: ignore[no-untyped-def]
    transcript_svc, transcript_svc_app, token, publish, segment_event, handled
) -> None:
    org, sid, bot = uuid.uuid4(), uuid.uuid4(), token(service="bot")
    first = segment_event(org, sid, 0, text="What the bot said first.")
    await publish(first)
    await publish(first)  # a redelivery: the same event twice
    await handled(SCHEMA, CONSUMER, first.event_id)
    # The same sequence again under another event id (a bot that resumed and published it again),
    # and the same event once more; then the next segment.
    again = segment_event(org, sid, 0, text="The same segment, published a second time.")
    following = segment_event(org, sid, 1)
    for env in (first, again, following):
        await publish(env)
    await handled(SCHEMA, CONSUMER, again.event_id, following.event_id)

    body = await wait_until(transcript_svc, bot, org, sid, lambda b: len(b.segments) == 2)

    assert [(s.sequence, s.text) for s in body.segments] == [(0, "What the bot said first."), (1, "utterance 1")]
    async with transaction(transcript_svc_app.state.sessions, org) as tx:
        stored = (await tx.execute(text(f"SELECT sequence, event_id FROM {SCHEMA}.transcript_segments "
                                        "WHERE session_id = :s ORDER BY sequence"), {"s": sid})).all()
    assert stored == [(0, first.event_id), (1, following.event_id)]


async def test_segments_arriving_out_of_order_are_returned_in_order(  # type: ignore[no-untyped-def]
    transcript_svc, token, publish, segment_event
) -> None:
    org, sid, bot = uuid.uuid4(), uuid.uuid4(), token(service="bot")
    for sequence in (3, 1):
        await publish(segment_event(org, sid, sequence))

    partial = await wait_until(transcript_svc, bot, org, sid, lambda b: len(b.segments) == 2)
    assert [s.sequence for s in partial.segments] == [1, 3]
    assert partial.next_sequence == 4  # after the highest stored, gaps notwithstanding

    for sequence in (0, 2):
        await publish(segment_event(org, sid, sequence))
    body = await wait_until(transcript_svc, bot, org, sid, lambda b: len(b.segments) == 4)

    assert [(s.sequence, s.text) for s in body.segments] == [(n, f"utterance {n}") for n in range(4)]
    assert body.next_sequence == 4


async def test_a_final_segment_replaces_an_interim_one_never_the_reverse(  # type: ignore[no-untyped-def]
    transcript_svc, transcript_svc_app, token, publish, segment_event, handled
) -> None:
    org, sid, bot = uuid.uuid4(), uuid.uuid4(), token(service="bot")
    interim = segment_event(org, sid, 0, speaker="candidate", text="Yes, let", final=False)
    await publish(interim)
    await wait_until(transcript_svc, bot, org, sid, lambda b: len(b.segments) == 1)
    final = segment_event(org, sid, 0, speaker="candidate", text="Yes, let's begin.", end_ms=1900)
    await publish(final)
    body = await wait_until(transcript_svc, bot, org, sid, lambda b: b.segments[0].final)
    late_interim = segment_event(org, sid, 0, speaker="candidate", text="Yes, let's", final=False)
    late_final = segment_event(org, sid, 0, speaker="candidate", text="Yes, lets begin", final=True)
    await publish(late_interim)
    await publish(late_final)
    await handled(SCHEMA, CONSUMER, late_interim.event_id, late_final.event_id)

    after = await segments(transcript_svc, bot, org, sid)
    assert fields(after) == fields(body)
    assert (after.segments[0].text, after.segments[0].end_ms) == ("Yes, let's begin.", 1900)


async def test_a_segment_colliding_with_another_orgs_session_changes_nothing(  # type: ignore[no-untyped-def]
    transcript_svc, transcript_svc_app, token, publish, segment_event, handled
) -> None:
    owner, intruder, sid, bot = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), token(service="bot")
    await publish(segment_event(owner, sid, 0, text="the owner's interim", final=False))
    before = await wait_until(transcript_svc, bot, owner, sid, lambda b: len(b.segments) == 1)
    # The same session and sequence under another org, final: it must neither replace the owner's
    # interim segment nor fail (the row is invisible to the other org's transaction).
    collision = segment_event(intruder, sid, 0, text="the intruder's final")
    await publish(collision)
    await handled(SCHEMA, CONSUMER, collision.event_id)

    assert fields(await segments(transcript_svc, bot, owner, sid)) == fields(before)
    assert (await segments(transcript_svc, bot, intruder, sid)).segments == []


async def test_a_segment_without_an_org_ends_in_the_dead_letter_queue(  # type: ignore[no-untyped-def]
    transcript_svc, token, publish, segment_event, base_settings
) -> None:
    sid = uuid.uuid4()
    orphan = segment_event(None, sid, 0)
    await publish(orphan)

    name = dead_letter_queue(base_settings.bus_namespace, subscription("transcript-svc", "segments")).name
    connection = await aio_pika.connect(base_settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        dlq = await channel.declare_queue(name, passive=True)
        others: list[aio_pika.abc.AbstractIncomingMessage] = []
        found = None
        deadline = asyncio.get_running_loop().time() + 20
        while found is None and asyncio.get_running_loop().time() < deadline:
            message = await dlq.get(no_ack=False, fail=False)
            if message is None:
                await asyncio.sleep(0.1)
            elif message.message_id == str(orphan.event_id):
                found = message
                await message.ack()
            else:
                others.append(message)
        for message in others:
            await message.nack(requeue=True)
    assert found is not None, "the segment without an org was not dead-lettered"
