"""Word-level text matching: word counts, a light stemmer, and expected-item coverage."""

import re
from collections.abc import Iterable, Sequence

# Keeps "c++", "c#" and "i've" whole; everything else splits on non-alphanumerics ("ci/cd" -> ci, cd).
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*(?:\+\+|#)?")
_VOWEL = re.compile(r"[aeiouy]")
_SIBILANT_ENDINGS = ("s", "x", "z", "ch", "sh")
# Words that never decide whether a multi-word item was covered.
_FILLER = frozenset(
    "a an the of and or to in on for with by at from as is are be how what your you my our their".split()
)


def words(text: str) -> list[str]:
    """Lower-cased words of ``text``, punctuation dropped."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def word_count(text: str) -> int:
    return len(words(text))


def stem(word: str) -> str:
    """Fold plurals and -ing/-ed/-e endings so "caches", "caching", "cached" and "cache" agree."""
    w = word.lower().removesuffix("'s")
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("es") and w[:-2].endswith(_SIBILANT_ENDINGS):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for ending in ("ing", "ed"):
        rest = w[: -len(ending)]
        # The rest must still look like a word: "bring", "shed" and "need" stay whole.
        if w.endswith(ending) and len(rest) >= 2 and _VOWEL.search(rest) and not w.endswith("eed"):
            w = rest
            if len(w) > 2 and w[-1] == w[-2] and w[-1] not in "lsz":  # running -> run, but not "install"
                w = w[:-1]
            if w.endswith("i"):  # retried -> retry
                w = w[:-1] + "y"
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def stems(text: str) -> list[str]:
    return [stem(w) for w in words(text)]


def content_stems(text: str) -> list[str]:
    """Stems of the words that carry meaning ("the", "of", "how" dropped)."""
    return [stem(w) for w in words(text) if w not in _FILLER]


def _compounds(ws: Sequence[str]) -> set[str]:
    """Forms of a word pair written as one ("roll back" ~ "rollback", "trade-offs" ~ "tradeoffs")."""
    return {form for a, b in zip(ws, ws[1:], strict=False) for form in (stem(a + b), stem(a) + stem(b))}


def mentions(answer: str, item: str) -> bool:
    """Whether an answer covers an item: as a phrase, written as one word, or with all its content words."""
    said = words(answer)
    said_stems = [stem(w) for w in said]
    item_words = words(item)
    item_stems = [stem(w) for w in item_words]
    if not item_stems:
        return False
    n = len(item_stems)
    if any(said_stems[i : i + n] == item_stems for i in range(len(said_stems) - n + 1)):
        return True
    as_one_word = {stem("".join(item_words)), "".join(item_stems)}
    if as_one_word & (set(said_stems) | _compounds(said)):
        return True
    content = content_stems(item)
    return n > 1 and bool(content) and set(content) <= set(said_stems)


def coverage(expected_items: Iterable[str], answers: Iterable[str]) -> tuple[list[str], list[str]]:
    """(covered, missing) expected items, in config order, over all the answers given so far."""
    answer = " ".join(answers)
    covered: list[str] = []
    missing: list[str] = []
    for item in expected_items:
        (covered if mentions(answer, item) else missing).append(item)
    return covered, missing


def spoken_list(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
