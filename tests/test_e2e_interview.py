"""End to end: `voice run`'s platform with warm bot workers, and a simulated candidate who joins the
room over WebRTC on 127.0.0.1 and answers by voice (Piper), heard by the bot through Whisper.

The stack has its own database, bus namespace and ports (``voice_cli.simulate.stack``); what the
platform did is read from its bus (every event) and its API (the session), never from its internals.
"""

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest

from bot_orchestrator.worker.recording import decode_ogg
from voice_cli.infra import DEFAULT_SUPERUSER_URL
from voice_cli.simulate.personas import load_persona
from voice_cli.simulate.run import (
    EXAMPLE_CONFIG,
    SimulationResult,
    dev_organisation,
    load_config,
    simulate,
    word_recovery,
)
from voice_cli.simulate.speech import Ears, Voice
from voice_cli.simulate.stack import BusTap, LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

PLAN = ["intro", "indexing", "incident"]
FAST_HEARTBEATS = {"VOICE_HEARTBEAT_SECONDS": "1"}
BOT_READY_SECONDS = 120.0


class Servers(TypedDict):
    """The servers every other test uses (conftest.py reads the same variables)."""

    superuser_url: str
    amqp_url: str


SERVERS: Servers = {"superuser_url": os.environ.get("VOICE_TEST_PG", DEFAULT_SUPERUSER_URL),
                    "amqp_url": os.environ.get("VOICE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")}


@contextlib.contextmanager
def running(stack: LocalStack) -> Iterator[LocalStack]:
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@contextlib.asynccontextmanager
async def tapped(stack: LocalStack) -> AsyncIterator[BusTap]:
    tap = await BusTap(stack.amqp_url, stack.namespace).start()
    try:
        yield tap
    finally:
        await tap.stop()


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[LocalStack]:
    """`make run`'s platform as it is: every service and its orchestrator keeping one warm bot."""
    with running(LocalStack(tmp_path, run_bots=1, extra_env=FAST_HEARTBEATS, **SERVERS)) as stack:
        yield stack


@pytest.fixture
def services_only(tmp_path: Path) -> Iterator[LocalStack]:
    """The services with an orchestrator that starts no bot (``external``): the test starts bot workers
    of its own that it can kill; the orchestrator still follows them from their heartbeats."""
    env = {**FAST_HEARTBEATS, "VOICE_RECORDING_PART_SECONDS": "4"}
    with running(LocalStack(tmp_path, pool_backend="external", extra_env=env, **SERVERS)) as stack:
        yield stack


@pytest.fixture(scope="module")
def models() -> tuple[Voice, Ears]:
    return Voice(), Ears()


async def warm_bots(stack: LocalStack, tap: BusTap, count: int) -> list[str]:
    """Wait until ``count`` bots are idle (starting workers of the test's own beyond `voice run`'s)."""
    while stack.run_bots + sum(b.process.poll() is None for b in stack.bots.values()) < count:
        stack.start_bot()
    try:
        beats = await tap.idle_bots(count, BOT_READY_SECONDS)
    except TimeoutError:
        pytest.fail(f"{count} warm bot(s) never reported idle:\n{stack.logs()}")
    return [b.payload["bot_id"] for b in beats]


async def interview(stack: LocalStack, models: tuple[Voice, Ears],
                    started: "asyncio.Future[uuid.UUID] | None" = None, *, persona: str = "strong",
                    questions: int = len(PLAN), recorded: bool = False, score_wait: float = 0) -> SimulationResult:
    """A persona (strong) through the plan's first questions (three); ``started`` gets the session id;
    ``recorded``: the config asks for the bot's audio recording; ``score_wait``: how long to wait for analytics."""
    org_id, token = dev_organisation(stack.settings)
    voice, ears = models
    config = load_config(EXAMPLE_CONFIG, questions)
    if recorded:
        config["providers"] = {**config["providers"], "recording": "audio"}
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30.0, trust_env=False) as client:
        return await simulate(client, org_id, token, config, load_persona(persona),
                              voice=voice, ears=ears, timeout_seconds=360, score_wait_seconds=score_wait,
                              on_started=started.set_result if started else None)


def main_questions(tap: BusTap, session_id: object) -> list[str]:
    return [e.payload["question_id"] for e in tap.of("interview.question_asked", session_id, follow_up_index=0)]


def prompts(tap: BusTap, kind: str, session_id: object) -> list[tuple[str, int]]:
    """(question id, follow-up index) of each question asked or answer received, in order."""
    return [(e.payload["question_id"], e.payload["follow_up_index"]) for e in tap.of(kind, session_id)]


def candidate_transcript(tap: BusTap, session_id: object) -> str:
    return " ".join(e.payload["text"] for e in tap.of("transcript.segment", session_id, speaker="candidate")
                    if e.payload.get("final", True))


async def test_strong_candidate_takes_a_three_question_interview(
    platform: LocalStack, models: tuple[Voice, Ears]
) -> None:
    async with tapped(platform) as tap:
        (bot_id,) = await warm_bots(platform, tap, 1)

        result = await interview(platform, models)

        sid, context = result.session_id, f"{result.to_json()}\n{platform.logs()}"
        assert main_questions(tap, sid) == PLAN, context
        assert result.asked == PLAN, context  # and the candidate heard them, in that order
        recovered = word_recovery(" ".join(result.spoken), candidate_transcript(tap, sid))
        assert recovered >= 0.8, f"{recovered:.0%} of the candidate's words in the transcript\n{context}"
        assert result.status == "completed", context
        assert result.room_deleted, context
        finished = tap.of("bot.finished", sid)
        assert [f.payload["bot_id"] for f in finished] == [bot_id], context
        # The same bot announces itself idle again after the interview, ready for the next job.
        await tap.wait_for(lambda: [b for b in tap.of("bot.heartbeat", bot_id=bot_id, state="idle")
                                    if b.at > finished[0].at], 15)


async def test_the_score_tells_strong_from_weak_and_follows_each_competency(
    platform: LocalStack, models: tuple[Voice, Ears]
) -> None:
    """Scored by the embedded heuristic from what the bot heard: personas that do not know the rubric."""
    async with tapped(platform) as tap:
        await warm_bots(platform, tap, 1)
        runs = {p: await interview(platform, models, persona=p, score_wait=30) for p in ("strong", "weak", "uneven")}

    context = {p: (r.status, r.score, r.criteria) for p, r in runs.items()}
    print(f"scores: {context}")
    strong, weak, uneven = runs["strong"], runs["weak"], runs["uneven"]
    assert all(r.status == "completed" and r.score is not None and r.scorer == "heuristic" for r in runs.values()), \
        f"{context}\n{platform.logs()}"
    assert strong.score is not None and weak.score is not None
    assert strong.score - weak.score >= 20, context
    # Strong on databases, weak on operations and communication: the criteria say so.
    assert uneven.criteria["databases"] >= uneven.criteria["operations"] + 25, context
    assert uneven.criteria["databases"] >= uneven.criteria["communication"] + 25, context


async def test_a_candidate_who_pauses_between_sentences_is_not_talked_over(
    platform: LocalStack, models: tuple[Voice, Ears]
) -> None:
    async with tapped(platform) as tap:
        await warm_bots(platform, tap, 1)

        result = await interview(platform, models, persona="rambling", questions=1)

        sid, context = result.session_id, f"{result.to_json()}\n{platform.logs()}"
        assert result.status == "completed", context
        assert result.timings.overlaps == 0, context  # the bot never started while the candidate spoke
        # Every question and follow-up got one answer, however many sentences and pauses it had.
        asked, answered = prompts(tap, "interview.question_asked", sid), prompts(tap, "interview.answer_received", sid)
        assert asked and answered == asked, context
        turns = tap.of("transcript.segment", sid, speaker="candidate")
        assert len(turns) > len(answered), context  # the pauses did end turns: the answer pause joined them


async def test_an_interview_resumes_on_another_bot_when_its_bot_is_killed(
    services_only: LocalStack, models: tuple[Voice, Ears]
) -> None:
    async with tapped(services_only) as tap:
        await warm_bots(services_only, tap, 2)
        started: asyncio.Future[uuid.UUID] = asyncio.get_running_loop().create_future()
        running = asyncio.ensure_future(interview(services_only, models, started, recorded=True))
        try:
            sid = await asyncio.wait_for(started, 60)
            joined = await tap.wait_for(lambda: tap.of("bot.joined", sid), 120)
            first_bot = joined[0].payload["bot_id"]
            # Mid-interview: the first answer is in, the second question not answered yet.
            await tap.wait_for(lambda: tap.of("interview.answer_received", sid, question_id=PLAN[0]), 120)
            services_only.kill_bot(first_bot, signal.SIGKILL)
            result = await asyncio.wait_for(running, 480)
        finally:
            if not running.done():
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)

        context = f"{result.to_json()}\n{services_only.logs()}"
        resumed = tap.of("bot.joined", sid, resumed=True)
        assert resumed and resumed[0].payload["bot_id"] != first_bot, context
        asked = main_questions(tap, sid)
        assert list(dict.fromkeys(asked)) == PLAN, context  # every question, in order
        # The new bot read the transcript so far: no second greeting, the answered question not asked again
        # (the one the first bot was asking when it died may be).
        assert asked.count(PLAN[0]) == 1, context
        segments = tap.of("transcript.segment", sid)
        kinds = [s.payload["kind"] for s in segments if s.payload["speaker"] == "bot"]
        assert kinds.count("greeting") == 1 and kinds.count("reconnected") == 1, context
        sequences = [s.payload["sequence"] for s in segments]
        assert len(set(sequences)) == len(sequences), context  # the new bot numbers on from the old one
        assert result.timings.reconnects >= 1, context
        assert result.status == "completed", context
        assert result.room_deleted, context

        # The recording kept what was said before the crash: the new bot joined the dead one's parts
        # with its own into one file, on the segments' clock, and deleted the parts.
        (stored,) = [e.payload for e in await tap.wait_for(lambda: tap.of("recording.completed", sid), 60)]
        audio = decode_ogg((services_only.objects_dir / stored["object_key"]).read_bytes())
        assert abs(stored["duration_ms"] - max(s.payload["end_ms"] for s in segments)) < 2000, context
        before_crash = next(s.payload for s in segments if s.payload["speaker"] == "candidate"
                            and s.payload["question_id"] == PLAN[0])
        window = audio[before_crash["start_ms"] * 16:before_crash["end_ms"] * 16, 0].astype(float)
        assert float(np.sqrt(np.mean(window ** 2))) > 100, (before_crash, context)
        assert not list((services_only.objects_dir / "recordings").rglob("parts/*/*.ogg")), context


@pytest.fixture
def pool_of_one(tmp_path: Path) -> Iterator[LocalStack]:
    """`voice run` whose orchestrator keeps one warm bot and may run no more (a burst must queue)."""
    env = {**FAST_HEARTBEATS, "VOICE_POOL_MAX_BOTS": "1", "VOICE_LINK_EXPIRY_SWEEP_SECONDS": "1"}
    with running(LocalStack(tmp_path, run_bots=1, extra_env=env, **SERVERS)) as stack:
        yield stack


async def test_invitations_hold_no_bot_a_burst_queues_in_order_and_a_late_link_expires(
    pool_of_one: LocalStack, models: tuple[Voice, Ears]
) -> None:
    stack = pool_of_one
    org_id, token = dev_organisation(stack.settings)
    admin = {"Authorization": f"Bearer {token}"}
    q = {"orgId": str(org_id)}
    async with tapped(stack) as tap, httpx.AsyncClient(base_url=stack.gateway_url, timeout=30.0,
                                                      trust_env=False) as client:
        await warm_bots(stack, tap, 1)
        config = (await client.post("/api/voice/configs", params=q, headers=admin,
                                    json=load_config(EXAMPLE_CONFIG, 1))).json()

        async def invited(**fields: object) -> dict:  # type: ignore[type-arg]
            body = {"configId": config["id"], "interviewType": "e2e", "candidateName": "Invited",
                    "candidateEmail": f"e2e-{uuid.uuid4().hex[:6]}@example.com", **fields}
            session = (await client.post("/api/voice/sessions", params=q, headers=admin, json=body)).json()
            started = await client.post(f"/api/voice/sessions/{session['id']}/start", params=q, headers=admin)
            assert started.status_code == 200, started.text
            return dict(started.json())

        # Invited and never opened: it holds no bot, and one soon past its deadline.
        idle = await invited()
        deadline = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
        late = await invited(joinDeadline=deadline)

        # Two candidates press Start at once with one bot: the second waits its turn, told its place.
        started: list[uuid.UUID] = []
        places: list[dict] = []  # type: ignore[type-arg]

        async def watch_queue() -> None:
            while len(started) < 2 or not all(tap.of("bot.joined", s) for s in started):
                for sid in started:
                    shown = (await client.get(f"/api/voice/sessions/{sid}", params=q, headers=admin)).json()
                    if shown.get("queue"):
                        places.append(shown["queue"])
                await asyncio.sleep(0.2)

        watcher = asyncio.ensure_future(watch_queue())
        voice, ears = models
        first, second = await asyncio.gather(*(
            simulate(client, org_id, token, load_config(EXAMPLE_CONFIG, 1), load_persona("strong"), voice=voice,
                     ears=ears, timeout_seconds=300, score_wait_seconds=0, on_started=started.append)
            for _ in range(2)))
        await asyncio.wait_for(watcher, 30)
        context = f"{first.to_json()}\n{second.to_json()}\n{places}\n{stack.logs()}"
        assert (first.status, second.status) == ("completed", "completed"), context
        earlier, later = sorted((first, second), key=lambda r: tap.of("bot.joined", r.session_id)[0].at)
        # The later one was taken only once the earlier one's interview was over, and was told its place.
        assert tap.of("bot.finished", earlier.session_id)[0].at <= tap.of("bot.joined", later.session_id)[0].at, \
            context
        assert places and places[0]["position"] == 1 and places[0]["estimatedWaitSeconds"] > 0, context

        # The invitation nobody opened is still waiting, and no bot ever took it.
        shown = (await client.get(f"/api/voice/sessions/{idle['id']}", params=q, headers=admin)).json()
        assert (shown["status"], shown["dispatchedAt"]) == ("ready", None), context
        assert not tap.of("bot.heartbeat", idle["id"]) and not tap.of("session.dispatched", idle["id"]), context
        # The late one ended link_expired, its room deleted; its link says so in words.
        ended = await tap.wait_for(lambda: tap.of("session.ended", late["id"]), 30)
        assert ended[0].payload["reason"] == "link_expired", context
        page = await client.get(urlsplit(late["joinUrl"]).path)
        assert page.status_code in (401, 410) and "This link has expired" in page.text, page.text
        for _ in range(50):
            gone = (await client.get(f"/api/voice/sessions/{late['id']}", params=q, headers=admin)).json()
            if gone["room"] is None:
                break
            await asyncio.sleep(0.2)
        assert gone["status"] == "failed" and gone["room"] is None, gone
