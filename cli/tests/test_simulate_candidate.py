"""The candidate's hearing and turn taking: utterances cut from audio, and when to answer what."""

import asyncio
import json

import numpy as np
import pytest

from voice_cli.simulate.candidate import (
    Mouth,
    SpeechDetector,
    SpeechStarted,
    TurnTaker,
    Utterance,
    question_match,
)
from voice_cli.simulate.personas import load_persona
from voice_cli.simulate.run import EXAMPLE_CONFIG, SimulationError, load_config, percentile
from voice_cli.simulate.speech import LISTEN_RATE, SEND_RATE
from voice_shared.api.configs import ConfigCreate

PLAN = ConfigCreate.model_validate(json.loads(EXAMPLE_CONFIG.read_text())).questions


def tone(seconds: float, amplitude: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * LISTEN_RATE)) / LISTEN_RATE
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * LISTEN_RATE), dtype=np.float32)


def feed_in_frames(detector: SpeechDetector, audio: np.ndarray, start: float = 100.0) -> list[object]:
    """Feed 20 ms frames as a receiving track would, each stamped with the time of its last sample."""
    events: list[object] = []
    frame = int(0.02 * LISTEN_RATE)
    for i in range(0, len(audio), frame):
        chunk = audio[i:i + frame]
        events += detector.feed(chunk, start + (i + len(chunk)) / LISTEN_RATE)
    return events


# --- speech detection ---


def test_two_utterances_with_their_start_and_end_times() -> None:
    audio = np.concatenate([silence(0.5), tone(1.0), silence(1.0), tone(0.6), silence(1.0)])

    events = feed_in_frames(SpeechDetector(end_silence_seconds=0.7), audio)

    kinds = [type(e).__name__ for e in events]
    assert kinds == ["SpeechStarted", "Utterance", "SpeechStarted", "Utterance"]
    first, second = events[1], events[3]
    assert isinstance(first, Utterance) and isinstance(second, Utterance)
    assert first.started_at == pytest.approx(100.5, abs=0.03) and first.ended_at == pytest.approx(101.5, abs=0.03)
    assert isinstance(events[2], SpeechStarted) and events[2].at == pytest.approx(102.5, abs=0.03)
    assert second.ended_at == pytest.approx(103.1, abs=0.03)
    # The audio kept is the speech plus a little before it: enough to transcribe, nothing of the rest.
    assert 1.0 <= len(first.audio) / LISTEN_RATE <= 1.0 + 0.2 + 0.7 + 0.04


def test_a_pause_shorter_than_the_end_silence_stays_one_utterance() -> None:
    audio = np.concatenate([tone(0.8), silence(0.3), tone(0.8), silence(1.0)])

    events = feed_in_frames(SpeechDetector(end_silence_seconds=0.7), audio)

    assert [type(e).__name__ for e in events] == ["SpeechStarted", "Utterance"]


def test_clicks_and_quiet_noise_are_not_speech() -> None:
    rng = np.random.default_rng(1)
    noise = (0.002 * rng.standard_normal(LISTEN_RATE)).astype(np.float32)
    audio = np.concatenate([noise, tone(0.02), silence(0.5), noise])

    assert feed_in_frames(SpeechDetector(), audio) == []


# --- turn taking ---


def turns(persona: str = "strong") -> TurnTaker:
    return TurnTaker(load_persona(persona), PLAN)


def test_greeting_and_first_question_in_one_breath_are_answered_soon() -> None:
    taker = turns()

    decision = taker.heard("Hello, I'm Ada, and I'll be interviewing you today. Let's begin. "
                           "Tell me about a system you built recently.")

    assert decision.kind == "question" and decision.question is not None and decision.question.id == "intro"
    assert decision.reply and "scale" in decision.reply and decision.delay == taker.reaction_seconds


def test_a_greeting_that_asks_something_waits_for_the_question_that_follows() -> None:
    taker = turns()

    greeting = taker.heard("Hello, I'm Ada. Thanks for joining, shall we begin?")
    question = taker.heard("Let's begin. Tell me about a system you built recently.")

    assert greeting.kind == "prompt" and greeting.delay == taker.opening_patience_seconds
    assert question.kind == "question" and question.question is not None and question.question.id == "intro"


def test_questions_are_recognised_through_transcription_errors() -> None:
    heard = "Thank you. Next question. How would you index a table that's queried by tenant and data?"

    assert question_match(heard, PLAN[1]) >= 0.6
    assert turns().heard(heard).question == PLAN[1]


def test_a_follow_up_is_answered_on_the_items_it_names_after_a_longer_pause() -> None:
    taker = turns()
    taker.heard("Let's begin. Tell me about a system you built recently.")
    taker.replying()

    decision = taker.heard("Could you also tell me about scale and role?")

    assert decision.kind == "follow_up" and decision.question == PLAN[0]
    assert decision.reply and "scale and role" in decision.reply
    assert decision.delay == taker.patience_seconds


def test_statements_wait_and_count_toward_the_next_decision() -> None:
    taker = turns()
    taker.heard("Tell me about a system you built recently.")
    taker.replying()

    thanks = taker.heard("Thank you.")
    question = taker.heard("Next question: Describe a production incident you handled.")

    assert thanks.kind == "statement" and thanks.reply is None
    assert question.kind == "question" and question.question == PLAN[2]
    assert taker.asked == ["intro", "incident"]


def test_are_you_still_there_is_answered() -> None:
    taker = turns("weak")
    taker.heard("Tell me about a system you built recently.")
    taker.replying()

    decision = taker.heard("Are you still there? Take your time, and go ahead whenever you're ready.")

    assert decision.kind == "prompt" and decision.reply == "Yes."


def test_goodbye_ends_the_conversation() -> None:
    taker = turns()
    taker.heard("Tell me about a system you built recently.")
    taker.replying()

    closing = taker.heard("Thank you. That was my last question. The team will be in touch. Goodbye.")
    after = taker.heard("Tell me about a system you built recently.")

    assert closing.kind == "closing" and closing.reply is None and taker.ended
    assert after.kind == "statement" and after.reply is None


def test_a_question_asked_again_after_a_reconnection_is_answered_again_once_in_the_order() -> None:
    taker = turns()
    taker.heard("Describe a production incident you handled.")
    taker.replying()

    again = taker.heard("Sorry, we lost the connection for a moment. I'm back now. "
                        "Let's continue where we left off. Describe a production incident you handled.")

    assert again.kind == "question" and again.question == PLAN[2] and again.reply
    assert taker.asked == ["incident"]


def test_the_silent_persona_decides_but_never_replies_and_hears_the_interviewer_give_up() -> None:
    taker = turns("silent")

    decisions = [taker.heard(said) for said in (
        "Let's begin. Tell me about a system you built recently.",
        "Are you still there? Take your time, and go ahead whenever you're ready.",
        "I haven't heard from you for a while, so I'll end the interview here. Thank you for your time.",
    )]

    assert [d.kind for d in decisions] == ["question", "prompt", "closing"]
    assert not any(d.reply for d in decisions) and taker.ended


# --- speaking ---


async def test_the_mouth_sends_speech_in_20_ms_frames_then_silence() -> None:
    mouth = Mouth()
    speech = np.full(SEND_RATE // 50 * 2 + 100, 1000, dtype=np.int16)  # two frames and a bit
    done = mouth.say(speech)

    frames = [mouth.next_frame() for _ in range(4)]

    assert all(len(f) == SEND_RATE // 50 for f in frames)
    assert frames[0].min() == frames[1].min() == 1000
    assert (frames[2][:100] == 1000).all() and not frames[2][100:].any() and not frames[3].any()
    assert done.done() and not mouth.speaking
    await asyncio.sleep(0)


# --- the run's helpers ---


def test_load_config_keeps_the_first_questions_under_a_fresh_name() -> None:
    first, second = load_config(EXAMPLE_CONFIG, 3), load_config(EXAMPLE_CONFIG, 3)

    assert [q["id"] for q in first["questions"]] == ["intro", "indexing", "incident"]
    assert first["name"] != second["name"]
    with pytest.raises(SimulationError, match="asked for 9"):
        load_config(EXAMPLE_CONFIG, 9)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 50) == 10 and percentile(values, 95) == 19 and percentile([3.0], 95) == 3
    assert percentile([], 50) is None
