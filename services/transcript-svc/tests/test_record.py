"""The final transcript as a function of its segments, and its three renderings (no I/O)."""

import json
import uuid
from datetime import UTC, datetime

from transcript_svc.record import facts, render
from voice_shared.api.transcripts import StoredSegment, TranscriptPublic


def seg(sequence: int, speaker: str, text: str, start: int, end: int, **fields: object) -> StoredSegment:
    return StoredSegment.model_validate({"sequence": sequence, "speaker": speaker, "text": text,
                                         "start_ms": start, "end_ms": end, "final": True, **fields})


SEGMENTS = [
    seg(2, "candidate", "I built a payments <platform> & ran it -->", 5000, 9000, question_id="intro",
        follow_up_index=0, kind="answer"),
    seg(0, "bot", "Hello, I'm Ada.", 0, 1000, kind="greeting"),
    seg(1, "bot", "Tell me about a system.", 1500, 3500, question_id="intro", follow_up_index=0, kind="question"),
]


def transcript() -> TranscriptPublic:
    f = facts(SEGMENTS)
    now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    return TranscriptPublic(
        id=uuid.uuid4(), session_id=uuid.uuid4(), revision=2, session_status="completed",
        end_reason="plan_complete", segment_count=len(f.segments), word_count=f.word_count,
        duration_ms=f.duration_ms, speakers=f.speakers, created_at=now, updated_at=now,
        segments=f.segments, text=f.text,
    )


def test_segments_are_ordered_with_roles_words_and_talk_time() -> None:
    f = facts(SEGMENTS)
    assert [s.sequence for s in f.segments] == [0, 1, 2]
    assert [s.role for s in f.segments] == ["interviewer", "interviewer", "candidate"]
    assert f.segments[1].question_id == "intro" and f.segments[1].follow_up_index == 0
    assert f.speakers["interviewer"].words == 3 + 5 and f.speakers["candidate"].words == 9
    assert f.word_count == 17
    assert f.speakers["interviewer"].talk_ms == 3000 and f.speakers["candidate"].talk_ms == 4000
    assert f.speakers["candidate"].talk_share == round(4000 / 7000, 4)
    assert f.duration_ms == 9000
    assert f.text.splitlines() == ["Interviewer: Hello, I'm Ada.", "Interviewer: Tell me about a system.",
                                   "Candidate: I built a payments <platform> & ran it -->"]


def test_no_segments_make_an_empty_transcript() -> None:
    f = facts([])
    assert (f.segments, f.word_count, f.duration_ms, f.text) == ([], 0, 0, "")
    assert f.speakers["candidate"].talk_share == 0.0


def test_json_rendering_is_the_api_model_with_its_text() -> None:
    t = transcript()
    body = json.loads(render(t, "json"))
    assert TranscriptPublic.model_validate(body) == t
    assert body["segments"][2]["questionId"] == "intro" and body["text"] == t.text


def test_text_rendering_has_a_line_per_segment_with_its_time() -> None:
    lines = render(transcript(), "txt").decode().splitlines()
    assert lines[1] == "Ended: completed (plan_complete); duration 00:09"
    assert lines[3:] == ["[00:00] Interviewer: Hello, I'm Ada.", "[00:01] Interviewer: Tell me about a system.",
                         "[00:05] Candidate: I built a payments <platform> & ran it -->"]


def test_webvtt_cues_carry_speaker_and_times_and_escape_markup() -> None:
    vtt = render(transcript(), "vtt").decode()
    blocks = vtt.strip().split("\n\n")
    assert blocks[0] == "WEBVTT"
    assert blocks[1] == "0\n00:00:00.000 --> 00:00:01.000\n<v Interviewer>Hello, I'm Ada."
    assert blocks[3] == ("2\n00:00:05.000 --> 00:00:09.000\n"
                         "<v Candidate>I built a payments &lt;platform&gt; &amp; ran it --&gt;")
    assert vtt.count("-->") == 3  # the candidate's "-->" cannot end a cue's timing line
