"""Chunking documents into passages: pure function, no I/O."""

import random
import re

import pytest

from session_svc.knowledge.chunking import MAX_CHARS, MIN_CHARS, Chunk, chunk_text

WORDS = ("interview candidate rubric latency database index tenant transcript question answer "
         "follow-up scoring voice room bot").split()


def prose(paragraphs: int, seed: int = 7) -> str:
    rng = random.Random(seed)

    def sentence() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18))).capitalize() + "."

    return "\n\n".join(" ".join(sentence() for _ in range(rng.randint(2, 9))) for _ in range(paragraphs))


def assert_covers(text: str, chunks: list[Chunk]) -> None:
    """Every chunk is the source slice it claims, in order, and no non-space character is left out."""
    covered = [False] * len(text)
    for i, c in enumerate(chunks):
        assert c.ordinal == i and c.text == text[c.start:c.end] and c.text.strip() == c.text
        for p in range(c.start, c.end):
            covered[p] = True
    assert all(covered[p] for p, ch in enumerate(text) if not ch.isspace())
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def assert_whole_words(text: str, chunks: list[Chunk]) -> None:
    for c in chunks:
        assert c.start == 0 or text[c.start - 1].isspace(), text[c.start - 10:c.start + 10]
        assert c.end == len(text) or text[c.end].isspace(), text[c.end - 10:c.end + 10]


@pytest.mark.parametrize("seed", range(5))
def test_prose_is_cut_into_passages_of_the_target_size(seed: int) -> None:
    text = prose(40, seed)
    chunks = chunk_text(text)
    assert len(chunks) > 5
    assert_covers(text, chunks)
    assert_whole_words(text, chunks)
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert all(len(c.text) >= MIN_CHARS for c in chunks[:-1])


def test_cuts_fall_at_sentence_ends_and_passages_overlap() -> None:
    text = prose(30)
    chunks = chunk_text(text)
    assert all(c.text.endswith(".") for c in chunks)
    overlaps = [b.start < a.end for a, b in zip(chunks, chunks[1:], strict=False)]
    assert sum(overlaps) >= len(overlaps) // 2
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start > a.start and a.end - b.start <= 150


def test_a_short_document_is_one_passage() -> None:
    assert chunk_text("  Hello world.  ") == [Chunk(0, 2, 14, "Hello world.")]
    assert chunk_text("") == [] and chunk_text(" \n\n ") == []


def test_markdown_headings_start_new_passages_without_overlap() -> None:
    sections = [f"## Section {i}\n\n{prose(3, seed=i)}" for i in range(6)]
    text = "# Handbook\n\n" + "\n\n".join(sections)
    chunks = chunk_text(text, markdown=True)
    assert_covers(text, chunks)
    heading_starts = [m.start() for m in re.finditer(r"^## ", text, re.M)]
    starts_at_heading = [c for c in chunks if c.start in heading_starts]
    # Passages that fill up near a heading end there, and the next one starts clean.
    assert len(starts_at_heading) >= 2
    for c in starts_at_heading:
        before = [p for p in chunks if p.ordinal == c.ordinal - 1]
        assert not before or before[0].end <= c.start


def test_a_huge_paragraph_without_spaces_is_cut_into_max_size_pieces() -> None:
    blob = "x" * (MAX_CHARS * 3 + 17)
    text = f"Intro words here.\n\n{blob}\n\nOutro."
    chunks = chunk_text(text)
    assert_covers(text, chunks)
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert sum(c.text.count("x") for c in chunks) == len(blob)  # pieces never overlap
    assert chunks[-1].text.endswith("Outro.")


def test_long_words_are_never_split_when_they_fit() -> None:
    word = "supercalifragilistic" * 10  # 200 characters
    text = " ".join([word] * 40)
    chunks = chunk_text(text)
    assert_covers(text, chunks)
    assert_whole_words(text, chunks)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        chunk_text("x", min_chars=100, max_chars=50)
    with pytest.raises(ValueError):
        chunk_text("x", min_chars=100, overlap_chars=100)
