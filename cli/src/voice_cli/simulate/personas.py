"""Simulated candidates: who they are and what they say, chosen without any I/O but loading the file.

A persona file (``voice_cli/personas/<name>.json``) holds answers keyed by question id, answers by
topic (keywords matched against the question's text) and a default, so any config gets an answer.
The behaviour adds what a file cannot say: the silent one never speaks, the strong one answers a
follow-up on the points the interviewer names, the rambling one wanders off, the off-plan one opens
each answer by trying to talk the interviewer out of its plan. A candidate does not know the rubric:
no behaviour adds the config's expected items to an answer. ``plain``: the candidate says exactly
what the file holds, nothing added, so an organisation can write its own candidates.
"""

import json
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from voice_shared.api.configs import Question
from voice_shared.matching import mentions, spoken_list, words

Behaviour = Literal["plain", "strong", "weak", "silent", "rambling", "off-plan"]


class TopicAnswer(BaseModel):
    """An answer for questions about a topic, recognised by words of the question."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keywords: tuple[str, ...] = Field(min_length=1)
    answer: str = Field(min_length=1)


class Persona(BaseModel):
    """A simulated candidate, as its JSON file describes it (camelCase keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    description: str
    behaviour: Behaviour
    answers: Mapping[str, str] = Field(default_factory=dict, description="By question id.")
    topics: tuple[TopicAnswer, ...] = ()
    default: str = Field(default="", description="For a question no id or topic matches.")
    follow_up: str = Field(default="", description="For a follow-up that names no expected item.")
    still_there: str = Field(default="", description="For anything else asked: 'are you still there?'.")
    interjections: tuple[str, ...] = Field(default=(), description="Said before answers, in turn.")
    tangents: tuple[str, ...] = Field(default=(), description="Said after answers, in turn.")
    sentence_pause_seconds: float | None = Field(
        default=None, ge=0.0, le=5.0,
        description="Silence added between sentences; None: the voice's own (0.2 s, so 0.4-0.7 s with the "
                    "quiet Piper leaves at a sentence's end). Someone thinking aloud pauses longer.",
    )

    @property
    def speaks(self) -> bool:
        return self.behaviour != "silent"

    def answer(self, question: Question, turn: int) -> str | None:
        """What the candidate says when ``question`` is asked; ``turn`` counts their earlier replies."""
        if not self.speaks:
            return None
        text = self.answers.get(question.id) or self._by_topic(question.text) or self.default
        return self._framed(text, turn)

    def follow_up_answer(self, question: Question | None, heard: str, turn: int) -> str | None:
        """The reply to a follow-up about ``question`` (the one being discussed, if known)."""
        if not self.speaks:
            return None
        named = [i for i in question.follow_up.expected_items if mentions(heard, i)] if question else []
        text = self.follow_up
        if named and self.behaviour == "strong":
            text = f"Of course. On {spoken_list(named)}: {_covering(text, named)}"
        return self._framed(text, turn)

    def reply(self, turn: int) -> str | None:
        """The reply to anything else the interviewer asks, e.g. whether the candidate is still there."""
        if not self.speaks:
            return None
        return self._framed(self.still_there, turn)

    def _by_topic(self, question_text: str) -> str | None:
        said = set(words(question_text))
        scored = [(len(said & {k.lower() for k in t.keywords}), t.answer) for t in self.topics]
        best = max(scored, default=(0, ""))
        return best[1] if best[0] else None

    def _framed(self, text: str, turn: int) -> str | None:
        parts = [_nth(self.interjections, turn), text, _nth(self.tangents, turn)]
        spoken = " ".join(p.strip() for p in parts if p and p.strip())
        return spoken or None


def _nth(lines: Sequence[str], turn: int) -> str:
    return lines[turn % len(lines)] if lines else ""


def _covering(text: str, items: Sequence[str]) -> str:
    """``text``, plus a sentence on the items the interviewer just named that it does not mention yet."""
    missing = [i for i in items if not mentions(text, i)]
    if not missing:
        return text
    return f"{text} For {spoken_list(missing)} in particular, I made sure we had it covered from the start."


# --- the bundled personas ---------------------------------------------------------------------


def _bundled_dir() -> Path:
    return Path(str(files("voice_cli") / "personas"))


def persona_names() -> list[str]:
    """The personas that ship with the project."""
    return sorted(p.stem for p in _bundled_dir().glob("*.json"))


def load_persona(name_or_path: str) -> Persona:
    """A bundled persona by name, or a persona file by path."""
    path = Path(name_or_path)
    if path.suffix != ".json" or not path.is_file():
        path = _bundled_dir() / f"{name_or_path}.json"
        if not path.is_file():
            raise ValueError(f"no persona {name_or_path!r}; bundled: {', '.join(persona_names())}, "
                             "or give the path of a .json persona file")
    return Persona.model_validate(json.loads(path.read_text(encoding="utf-8")))
