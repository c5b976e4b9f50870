"""The final transcript as a pure function of its segments, and its renderings (JSON, text, WebVTT).

No I/O: the service layer reads the segments, calls these, stores and archives what they return.
The archive and the export API use the same renderings, so a download always matches the record.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from voice_shared.api.transcripts import (
    ROLES,
    Role,
    SpeakerStats,
    StoredSegment,
    TranscriptFormat,
    TranscriptPublic,
    TranscriptSegmentPublic,
)

LABELS: dict[Role, str] = {"interviewer": "Interviewer", "candidate": "Candidate"}


@dataclass(frozen=True)
class Facts:
    """What the segments say about the interview."""

    segments: list[TranscriptSegmentPublic]
    speakers: dict[Role, SpeakerStats]
    word_count: int
    duration_ms: int
    text: str


def words(text: str) -> int:
    return len(text.split())


def facts(stored: Sequence[StoredSegment]) -> Facts:
    """Segments in sequence order with their roles, words and talk time per speaker, and the full text."""
    segments = [
        TranscriptSegmentPublic(**s.model_dump(), role=ROLES[s.speaker])
        for s in sorted(stored, key=lambda s: s.sequence)
    ]
    talk = {role: sum(max(0, s.end_ms - s.start_ms) for s in segments if s.role == role) for role in LABELS}
    spoken = {role: sum(words(s.text) for s in segments if s.role == role) for role in LABELS}
    total_talk = sum(talk.values())
    speakers = {
        role: SpeakerStats(words=spoken[role], talk_ms=talk[role],
                           talk_share=round(talk[role] / total_talk, 4) if total_talk else 0.0)
        for role in LABELS
    }
    return Facts(
        segments=segments, speakers=speakers, word_count=sum(spoken.values()),
        duration_ms=max((s.end_ms for s in segments), default=0),
        text="\n".join(f"{LABELS[s.role]}: {s.text}" for s in segments),
    )


def _clock(ms: int, *, hours: bool = True) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}" if hours else f"{h * 60 + m:02d}:{s:02d}"


def _vtt_text(text: str) -> str:
    # A cue's text must not hold "-->" or markup; blank lines would end the cue.
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(escaped.split())


def render(transcript: TranscriptPublic, fmt: TranscriptFormat) -> bytes:
    """The transcript as a file in ``fmt``: the API's JSON (with the full text), a readable text
    file with timestamps, or WebVTT captions whose cues carry the speaker (``<v Interviewer>``)."""
    if fmt == "json":
        return transcript.model_dump_json(by_alias=True, indent=2).encode()
    if fmt == "txt":
        head = [f"Transcript of session {transcript.session_id} (revision {transcript.revision})",
                f"Ended: {transcript.session_status} ({transcript.end_reason}); "
                f"duration {_clock(transcript.duration_ms, hours=False)}", ""]
        body = [f"[{_clock(s.start_ms, hours=False)}] {LABELS[s.role]}: {s.text}" for s in transcript.segments]
        return ("\n".join(head + body) + "\n").encode()
    cues = [
        f"{s.sequence}\n{_clock(s.start_ms)} --> {_clock(max(s.end_ms, s.start_ms))}\n"
        f"<v {LABELS[s.role]}>{_vtt_text(s.text)}"
        for s in transcript.segments
    ]
    return ("\n\n".join(["WEBVTT", *cues]) + "\n").encode()
