"""Splitting documents into passages for search: whole words, natural breaks, a little overlap."""

import re
from dataclasses import dataclass
from enum import IntEnum

MIN_CHARS = 800
MAX_CHARS = 1200
OVERLAP_CHARS = 150

_WORD = re.compile(r"\S+")
_HEADING = re.compile(r"#{1,6}")
_SENTENCE_END = re.compile(r"[.!?…:;][\"'”’)\]]*$")


class Break(IntEnum):
    """How natural a cut before a word is; the chunker cuts at the strongest one in range."""

    forced = 0  # inside a token longer than MAX_CHARS
    word = 1
    sentence = 2  # after a sentence or at a line break
    paragraph = 3
    heading = 4  # a markdown heading starts a new section


@dataclass(frozen=True)
class Chunk:
    """A passage: ``text == source[start:end]``."""

    ordinal: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Word:
    start: int
    end: int
    before: Break  # the break between the previous word and this one


def _words(text: str, markdown: bool, max_chars: int) -> list[_Word]:
    words: list[_Word] = []
    prev_end = 0
    for m in _WORD.finditer(text):
        gap = text[prev_end:m.start()]
        if markdown and "\n" in gap and _HEADING.fullmatch(m.group()):
            before = Break.heading
        elif gap.count("\n") >= 2:
            before = Break.paragraph
        elif "\n" in gap or (words and _SENTENCE_END.search(text[words[-1].start:words[-1].end])):
            before = Break.sentence
        else:
            before = Break.word
        # A token longer than a chunk (a URL, base64, text without spaces) is cut into pieces.
        for i, start in enumerate(range(m.start(), m.end(), max_chars)):
            words.append(_Word(start, min(start + max_chars, m.end()), before if i == 0 else Break.forced))
        prev_end = m.end()
    return words


def chunk_text(
    text: str,
    *,
    markdown: bool = False,
    min_chars: int = MIN_CHARS,
    max_chars: int = MAX_CHARS,
    overlap_chars: int = OVERLAP_CHARS,
) -> list[Chunk]:
    """Passages of ``min_chars``..``max_chars`` (the last may be shorter) covering all of ``text``.

    Each passage ends at the strongest break within that range (heading, paragraph, sentence,
    word); the next one repeats the previous passage's last words, up to ``overlap_chars``,
    so a fact split across a cut is still found whole. A new heading starts without overlap.
    """
    if not 0 < min_chars <= max_chars or not 0 <= overlap_chars < min_chars:
        raise ValueError("need 0 < min_chars <= max_chars and 0 <= overlap_chars < min_chars")
    words = _words(text, markdown, max_chars)
    chunks: list[Chunk] = []
    first = 0
    while first < len(words):
        start = words[first].start
        last = first
        while last + 1 < len(words) and words[last + 1].end - start <= max_chars:
            last += 1
        if last + 1 < len(words):
            in_range = [j for j in range(first, last + 1) if words[j].end - start >= min_chars]
            if in_range:
                # Strongest break wins; among equals, the longest passage.
                last = max(in_range, key=lambda j: (words[j + 1].before, j))
        chunks.append(Chunk(len(chunks), start, words[last].end, text[start:words[last].end]))
        first = _next_first(words, first, last, max_chars, overlap_chars)
    return chunks


def _next_first(words: list[_Word], first: int, last: int, max_chars: int, overlap_chars: int) -> int:
    """Where the next passage starts: a few words back, preferring a sentence start."""
    following = last + 1
    if following >= len(words) or words[following].before in (Break.heading, Break.forced):
        return following
    end = words[last].end
    candidates = [
        j for j in range(first + 1, last + 1)
        if end - words[j].start <= overlap_chars and words[following].end - words[j].start <= max_chars
    ]
    if not candidates:
        return following
    # The earliest sentence start within reach, else the earliest word.
    sentence_starts = [j for j in candidates if words[j].before >= Break.sentence]
    return (sentence_starts or candidates)[0]
