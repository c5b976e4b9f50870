"""Transcripts and configs for the scorers' tests, built as the bot and transcript-svc would make them."""

import uuid
from datetime import UTC, datetime
from typing import Any

from voice_shared.api.configs import InterviewDefinition
from voice_shared.api.transcripts import TranscriptPublic

# A support-lead interview: nothing of it is in the simulator's plan or personas.
SUPPORT_LEAD: dict[str, Any] = {
    "botName": "Maya", "persona": "You interview support team leads.", "greeting": "Hi, I'm Maya.",
    "questions": [
        {"id": "angry-customer", "text": "Tell me about a time you calmed down an angry customer.",
         "type": "behavioral", "competency": "customer-care",
         "followUp": {"maxFollowUps": 2, "expectedItems": ["empathy", "refund policy"]}},
        {"id": "queue", "text": "How would you cut the waiting time in a support queue?",
         "type": "situational", "competency": "operations",
         "followUp": {"maxFollowUps": 1, "expectedItems": ["triage", "knowledge base"]}},
        {"id": "coaching", "text": "How do you help a new agent who is struggling?",
         "type": "behavioral", "competency": "Leadership",
         "followUp": {"maxFollowUps": 1, "expectedItems": ["feedback"]}},
    ],
    "rubric": {"criteria": [
        {"id": "customer-care", "name": "Customer care", "weight": 2, "description": "Calm and fair with customers",
         "levels": [{"score": 1, "description": "Dismissive"}, {"score": 3, "description": "Polite"},
                    {"score": 5, "description": "Turns an angry customer into a loyal one"}]},
        {"id": "operations", "name": "Operations", "weight": 1, "description": "Runs a queue well"},
        {"id": "leadership", "name": "Leadership", "weight": 1, "description": "Grows the people on the team"},
    ]},
}

STRONG = {
    "angry-customer": "A customer once called furious because his order had been charged twice. I let him "
                      "finish, told him I understood how stressful that was, and put myself in his position. "
                      "Then I explained our refund policy, refunded the duplicate charge while he was on the line "
                      "and sent him a written confirmation. He thanked me and stayed with us.",
    "queue": "First I would triage the incoming tickets by urgency, so outages are handled before password "
             "resets. Then I would build a knowledge base of answers to the twenty most common questions, so "
             "customers solve simple problems themselves and agents answer faster. I would measure the median "
             "wait every week.",
    "coaching": "I sit with them for a few calls. After each call I tell them what went well and what to "
                "improve next time. We agree on a small goal for the week and I check in daily until they are "
                "confident.",
}
WEAK = {
    "angry-customer": "I told him to calm down.",
    "queue": "Hire more people, I guess.",
    "coaching": "They should read the manual.",
}


def definition(**overrides: Any) -> InterviewDefinition:
    return InterviewDefinition.model_validate({**SUPPORT_LEAD, **overrides})


def transcript(
    answers: dict[str, str], plan: InterviewDefinition, *, follow_ups: dict[str, list[str]] | None = None,
    status: str = "completed", revision: int = 1,
) -> TranscriptPublic:
    """The interviewer asks each planned question in turn; the candidate answers it (and its follow-ups)."""
    turns: list[tuple[str, str, str | None, str]] = [("bot", plan.greeting, None, "greeting")]
    for q in plan.questions:
        if q.id not in answers:
            continue
        turns += [("bot", q.text, q.id, "question"), ("candidate", answers[q.id], q.id, "answer")]
        for reply in (follow_ups or {}).get(q.id, []):
            turns += [("bot", "Could you say more about that?", q.id, "follow_up"),
                      ("candidate", reply, q.id, "answer")]
    turns.append(("bot", "Thank you, that's all from me.", None, "closing"))
    segments, clock = [], 0
    for sequence, (speaker, text, question_id, kind) in enumerate(turns):
        length = 400 * len(text.split())
        segments.append({"sequence": sequence, "speaker": speaker, "text": text, "startMs": clock,
                         "endMs": clock + length, "questionId": question_id,
                         "followUpIndex": 0 if question_id else None,
                         "kind": kind, "final": True, "role": "interviewer" if speaker == "bot" else "candidate"})
        clock += length + 800
    now = datetime.now(UTC).isoformat()
    words = {s: sum(len(x["text"].split()) for x in segments if x["speaker"] == s) for s in ("bot", "candidate")}
    return TranscriptPublic.model_validate({
        "id": str(uuid.uuid4()), "sessionId": str(uuid.uuid4()), "revision": revision, "sessionStatus": status,
        "endReason": "plan_complete", "segmentCount": len(segments), "wordCount": sum(words.values()),
        "durationMs": clock, "createdAt": now, "updatedAt": now, "segments": segments,
        "speakers": {"interviewer": {"words": words["bot"], "talkMs": 0, "talkShare": 0.5},
                     "candidate": {"words": words["candidate"], "talkMs": 0, "talkShare": 0.5}},
    })
