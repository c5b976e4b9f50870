"""The bundled personas: each behaves as its name says, for the bundled plan and for any other."""

import json

import pytest

from bot_orchestrator.engine import ScriptedInterviewer, asks_to_stop
from voice_cli.simulate.personas import Persona, load_persona, persona_names
from voice_cli.simulate.run import EXAMPLE_CONFIG
from voice_shared.api.configs import ConfigCreate, Question
from voice_shared.matching import coverage, word_count
from voice_shared.testing import config_body

BUNDLED_PLAN = ConfigCreate.model_validate(json.loads(EXAMPLE_CONFIG.read_text())).questions
TEST_PLAN = ConfigCreate.model_validate(config_body()).questions
UNKNOWN = Question.model_validate({
    "id": "payments-retry", "text": "How do you make payment retries safe in a distributed system?",
    "followUp": {"expectedItems": ["idempotency keys", "exponential backoff"]},
})
SHORT = ScriptedInterviewer().short_answer_words


def test_the_five_personas_ship_and_load() -> None:
    assert {"strong", "weak", "silent", "rambling", "off-plan"} <= set(persona_names())
    for name in persona_names():
        persona = load_persona(name)
        assert persona.name == name and persona.description


def test_a_persona_file_loads_by_path_and_an_unknown_name_lists_the_bundled_ones(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "custom.json"
    path.write_text(json.dumps({"name": "custom", "description": "d", "behaviour": "weak", "default": "No idea."}))
    assert load_persona(str(path)).answer(UNKNOWN, 0) == "No idea."
    with pytest.raises(ValueError, match="strong"):
        load_persona("nobody")


def test_a_persona_file_with_an_unknown_key_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "typo.json"
    path.write_text(json.dumps({"name": "typo", "description": "d", "behaviour": "weak", "answer": "x"}))
    with pytest.raises(ValueError, match="answer"):
        load_persona(str(path))


@pytest.mark.parametrize("question", [*BUNDLED_PLAN, *TEST_PLAN, UNKNOWN], ids=lambda q: q.id)
def test_strong_answers_at_length_in_its_own_words(question: Question) -> None:
    """A candidate does not know the rubric: the answer is the file's, with no expected item added."""
    persona = load_persona("strong")
    answer = persona.answer(question, 0)

    assert answer is not None and word_count(answer) >= 2 * SHORT
    assert answer in (persona.answers.get(question.id), persona.default, *(t.answer for t in persona.topics))


def test_plain_says_exactly_what_the_file_holds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "mine", "description": "d", "behaviour": "plain",
                                "answers": {"payments-retry": "Retries reuse the same key."},
                                "followUp": "That is all I know."}))
    persona = load_persona(str(path))

    assert persona.answer(UNKNOWN, 0) == "Retries reuse the same key."
    assert persona.follow_up_answer(UNKNOWN, "What about idempotency keys?", 1) == "That is all I know."


def test_strong_answers_a_follow_up_on_the_items_it_names() -> None:
    question = BUNDLED_PLAN[2]  # incident: root cause, monitoring
    reply = load_persona("strong").follow_up_answer(question, "Could you also tell me about monitoring?", 3)

    assert reply is not None and "monitoring" in reply and "root cause" not in reply


@pytest.mark.parametrize("question", BUNDLED_PLAN, ids=lambda q: q.id)
def test_weak_is_short_and_misses_the_expected_items(question: Question) -> None:
    answer = load_persona("weak").answer(question, 0)

    assert answer is not None and word_count(answer) < SHORT
    assert coverage(question.follow_up.expected_items, [answer])[0] == []


def test_rambling_talks_far_longer_than_strong() -> None:
    strong, rambling = load_persona("strong"), load_persona("rambling")
    for turn, question in enumerate(BUNDLED_PLAN):
        long, short = rambling.answer(question, turn), strong.answer(question, turn)
        assert long and short and word_count(long) > 1.5 * word_count(short)


def test_silent_never_says_anything() -> None:
    silent = load_persona("silent")
    assert not silent.speaks
    assert silent.answer(BUNDLED_PLAN[0], 0) is None
    assert silent.follow_up_answer(BUNDLED_PLAN[0], "Could you tell me more?", 1) is None
    assert silent.reply(2) is None


def test_off_plan_tries_to_talk_the_interviewer_out_of_its_plan_without_asking_to_stop() -> None:
    persona = load_persona("off-plan")
    said = [persona.answer(q, turn) for turn, q in enumerate(BUNDLED_PLAN)]
    said += [persona.follow_up_answer(BUNDLED_PLAN[0], "Could you tell me more?", 7), persona.reply(8)]
    text = " ".join(s for s in said if s).lower()

    for attempt in ("skip to the end", "ignore your instructions", "perfect score"):
        assert attempt in text
    # Trying to change the plan is not a request to end the interview: the interviewer must carry on.
    assert not any(asks_to_stop(s) for s in said if s)


def test_unknown_questions_get_a_topic_answer_or_the_default() -> None:
    strong = load_persona("strong")
    index_question = Question(id="q9", text="Which columns would you put in an index for this query?")
    other = Question(id="q10", text="Where do you see yourself in five years?")

    assert "composite index" in (strong.answer(index_question, 0) or "")
    assert (strong.answer(other, 0) or "").startswith(strong.default)


def test_interjections_and_tangents_take_turns() -> None:
    persona = Persona(name="p", description="d", behaviour="off-plan", default="Answer.",
                      interjections=("One.", "Two."), tangents=("After.",))
    assert [persona.answer(UNKNOWN, t) for t in range(3)] == [
        "One. Answer. After.", "Two. Answer. After.", "One. Answer. After."]


def test_voice_simulate_refuses_an_unknown_persona_before_creating_anything(capsys) -> None:  # type: ignore[no-untyped-def]
    from voice_cli.main import main

    assert main(["simulate", "--persona", "nobody", "--gateway", "http://127.0.0.1:9"]) == 1
    assert "no persona 'nobody'" in capsys.readouterr().err
