"""The embedded scorer: transparent rules, each shown with its part in every score.

Per planned question, a 0-1 quality from four rules (weights renormalised over the rules that apply):
- coverage (0.45): the share of the question's expected items its answers covered, by words, by sound
  (a speech-to-text slip) or by meaning (the embedding model); a question with no expected items has none;
- depth (0.30): answer words against what a full answer takes (60 words; 15 for a screening question);
- independence (0.15): 1 − follow-ups asked / follow-ups allowed (where the question allows follow-ups);
- balance (0.10): the candidate's share of the words spoken, full at one half or more (the whole interview).
A question never asked, or asked and not answered, has quality 0. A criterion is judged on the questions
whose competency names it (else the one nearest in meaning); a criterion no question names is judged on
the whole interview. Its quality maps to its scale: 1 + round(4 × quality) where it has level anchors
(0-100 = (level − 1) × 25), else 100 × quality. The overall score is the criteria's weighted mean.

What the candidate says to the scorer ("ignore the rubric and give me 100") is set apart before any rule
runs: it is flagged and counts for nothing, so it cannot move the score.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from analytics_svc.scoring.interview import Answer, Interview, Sentence
from analytics_svc.scoring.meaning import Meaning, covers_by_meaning, sounds_like
from analytics_svc.scoring.scored import Scored
from voice_shared.api.analytics import (
    AnalyticsResult,
    CriterionResult,
    Evidence,
    ItemMatch,
    KeyMoment,
    QuestionResult,
    Rule,
)
from voice_shared.api.configs import Criterion, Question, QuestionType
from voice_shared.matching import mentions, spoken_list

SCORER_VERSION = "heuristic-1"
RuleName = Literal["coverage", "depth", "independence", "balance"]
WEIGHTS: dict[RuleName, float] = {"coverage": 0.45, "depth": 0.30, "independence": 0.15, "balance": 0.10}
FULL_ANSWER_WORDS = 60
FULL_SCREENING_ANSWER_WORDS = 15
BALANCE_FULL_AT = 0.5
STRONG, WEAK = 0.75, 0.35


@dataclass
class Judged:
    """One question's facts and rule values."""

    answer: Answer
    covered: list[ItemMatch] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    values: dict[RuleName, float] = field(default_factory=dict)
    details: dict[RuleName, str] = field(default_factory=dict)

    @property
    def question(self) -> Question:
        return self.answer.question

    @property
    def answered(self) -> bool:
        return self.answer.words > 0

    @property
    def quality(self) -> float:
        if not self.answered:
            return 0.0
        total = sum(WEIGHTS[r] for r in self.values)
        return sum(WEIGHTS[r] * v for r, v in self.values.items()) / total


def score(interview: Interview, meaning: Meaning) -> Scored:
    """Score the interview (blocking: the embedding model runs here; call it in a thread)."""
    balance = _balance(interview)
    judged = [_judge(a, balance, meaning) for a in interview.answers]
    assigned = _assign(interview.criteria, [j.question for j in judged], meaning)
    criteria = [_criterion(c, [j for j in judged if j.question.id in assigned[c.id]], len(judged))
                for c in interview.criteria]
    total_weight = sum(c.weight for c in criteria)
    overall = round(sum(c.score_100 * c.weight for c in criteria) / total_weight, 1)
    flags = ["instruction_in_transcript"] if interview.instructions else []
    if interview.transcript.session_status != "completed":
        flags.append("incomplete_interview")
    result = AnalyticsResult(
        overall_score=overall, criteria=criteria,
        strengths=_strengths(judged), weaknesses=_weaknesses(judged), recommendations=_recommendations(judged),
        key_moments=_key_moments(judged, interview.instructions),
        summary=_summary(overall, judged, criteria, balance),
        questions=[QuestionResult(
            question_id=j.question.id, asked=j.answer.asked, answered=j.answered, answer_words=j.answer.words,
            follow_ups=j.answer.follow_ups, covered=j.covered, missing=j.missing, quality=round(j.quality, 3),
        ) for j in judged],
        follow_ups_needed=sum(j.answer.follow_ups for j in judged), speaking_balance=round(balance, 3), flags=flags,
    )
    return Scored(result=result, scorer_version=SCORER_VERSION)


def _balance(interview: Interview) -> float:
    spoken = interview.candidate_words + interview.interviewer_words
    return interview.candidate_words / spoken if spoken else 0.0


def _judge(answer: Answer, balance: float, meaning: Meaning) -> Judged:
    judged = Judged(answer)
    question = answer.question
    if not judged.answered:
        return judged
    items = question.follow_up.expected_items
    if items:
        judged.covered, judged.missing = _coverage(items, answer.sentences, meaning)
        judged.values["coverage"] = len(judged.covered) / len(items)
        judged.details["coverage"] = f"{len(judged.covered)} of {len(items)} expected items covered"
    full = FULL_SCREENING_ANSWER_WORDS if question.type == QuestionType.screening else FULL_ANSWER_WORDS
    judged.values["depth"] = min(1.0, answer.words / full)
    judged.details["depth"] = f"{answer.words} words (a full answer: {full})"
    allowed = question.follow_up.max_follow_ups if question.follow_up.enabled else 0
    if allowed:
        judged.values["independence"] = max(0.0, 1 - answer.follow_ups / allowed)
        judged.details["independence"] = f"{answer.follow_ups} of {allowed} follow-ups needed"
    judged.values["balance"] = min(1.0, balance / BALANCE_FULL_AT)
    judged.details["balance"] = f"the candidate spoke {balance:.0%} of the words"
    return judged


def _coverage(
    items: Sequence[str], sentences: Sequence[Sentence], meaning: Meaning
) -> tuple[list[ItemMatch], list[str]]:
    """Each item by words, else by sound, else by meaning, with the sentence that covers it. The
    embedding model runs only for the items words and sound left uncovered."""
    whole = " ".join(s.text for s in sentences)
    found: dict[str, ItemMatch] = {}
    for item in items:
        if mentions(whole, item):
            said = next((s for s in sentences if mentions(s.text, item)), sentences[0])
            found[item] = ItemMatch(item=item, matched_by="words", sequence=said.sequence, quote=said.text)
        elif (heard := next((s for s in sentences if sounds_like(s.text, item)), None)) is not None:
            found[item] = ItemMatch(item=item, matched_by="sound", sequence=heard.sequence, quote=heard.text)
    left = [item for item in items if item not in found]
    z = meaning.z_scores(left, [s.text for s in sentences])
    for i, item in enumerate(left):
        best = int(z[:, i].argmax())
        if covers_by_meaning(float(z[best, i]), sentences[best].text):
            meant = sentences[best]
            found[item] = ItemMatch(item=item, matched_by="meaning", sequence=meant.sequence, quote=meant.text,
                                    similarity=round(float(z[best, i]), 2))
    return [found[i] for i in items if i in found], [i for i in items if i not in found]


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _assign(criteria: Sequence[Criterion], questions: Sequence[Question], meaning: Meaning) -> dict[str, set[str]]:
    """Criterion id → the planned questions it is judged on."""
    names = {_key(n): c.id for c in criteria for n in (c.id, c.name)}
    assigned: dict[str, set[str]] = {c.id: set() for c in criteria}
    unnamed = [q for q in questions if _key(q.competency) not in names]
    for q in questions:
        if (cid := names.get(_key(q.competency))) is not None:
            assigned[cid].add(q.id)
    if unnamed:
        nearest = meaning.closest([f"{q.competency}: {q.text}" for q in unnamed],
                                  [f"{c.name}: {c.description}" for c in criteria])
        for q, i in zip(unnamed, nearest, strict=True):
            assigned[criteria[i].id].add(q.id)
    for c in criteria:
        if not assigned[c.id]:
            assigned[c.id] = {q.id for q in questions}
    return assigned


def _criterion(criterion: Criterion, judged: list[Judged], planned: int) -> CriterionResult:
    quality = sum(j.quality for j in judged) / len(judged) if judged else 0.0
    rules = []
    for rule, weight in WEIGHTS.items():
        values = [j.values[rule] for j in judged if rule in j.values]
        if values:
            value = sum(values) / len(values)
            rules.append(Rule(rule=rule, value=round(value, 3), weight=weight, points=round(value * weight * 100, 1),
                              detail="; ".join(f"{j.question.id}: {j.details[rule]}" for j in judged
                                               if rule in j.details)))
    unanswered = [j for j in judged if not j.answered]
    if unanswered:
        rules.append(Rule(rule="answered", value=round(1 - len(unanswered) / len(judged), 3), weight=0, points=0,
                          detail=f"not answered (quality 0): {', '.join(j.question.id for j in unanswered)}"))
    if criterion.levels:
        level = 1 + round(4 * quality)
        scale, value, score_100 = "1-5", float(level), (level - 1) * 25.0
    else:
        scale, value = "0-100", round(100 * quality, 1)
        score_100 = value
    evidence = [Evidence(sequence=m.sequence, quote=m.quote) for j in judged for m in j.covered]
    if not evidence:
        longest = sorted((s for j in judged for s in j.answer.sentences), key=lambda s: -len(s.text))[:2]
        evidence = [Evidence(sequence=s.sequence, quote=s.text) for s in longest]
    whole = len(judged) == planned and planned > 1
    return CriterionResult(
        criterion_id=criterion.id, name=criterion.name, weight=criterion.weight, scale=scale,  # type: ignore[arg-type]
        score=value, score_100=score_100, feedback=_feedback(judged, whole), evidence=_unique(evidence),
        rules=rules, question_ids=[j.question.id for j in judged],
    )


def _unique(evidence: list[Evidence]) -> list[Evidence]:
    return list({(e.sequence, e.quote): e for e in evidence}.values())


def _feedback(judged: list[Judged], whole: bool) -> str:
    if not judged:
        return "No planned question to judge it on."
    answered = [j for j in judged if j.answered]
    scope = "the whole interview" if whole else f"{len(judged)} question{'s' * (len(judged) != 1)}"
    if not answered:
        return f"Judged on {scope}: none was answered."
    parts = [f"Judged on {scope}"]
    expected = sum(len(j.question.follow_up.expected_items) for j in answered)
    if expected:
        covered = sum(len(j.covered) for j in answered)
        missing = [i for j in answered for i in j.missing]
        parts.append(f"covered {covered} of {expected} expected items"
                     + (f" (missing: {spoken_list(missing)})" if missing else ""))
    words = sum(j.answer.words for j in answered) // len(answered)
    parts.append(f"answers averaged {words} words")
    follow_ups = sum(j.answer.follow_ups for j in answered)
    if follow_ups:
        parts.append(f"{follow_ups} follow-up{'s' * (follow_ups != 1)} needed")
    if len(answered) < len(judged):
        parts.append(f"{len(judged) - len(answered)} not answered")
    return "; ".join(parts) + "."


def _strengths(judged: list[Judged]) -> list[str]:
    out = []
    for j in judged:
        if j.answered and j.quality >= STRONG:
            covered = [m.item for m in j.covered]
            out.append(f"Full answer to \"{j.question.text}\"" + (f": covered {spoken_list(covered)}." if covered
                                                                  else f" ({j.answer.words} words)."))
    return out


def _weaknesses(judged: list[Judged]) -> list[str]:
    out = []
    for j in judged:
        if not j.answer.asked and not j.answered:
            continue  # not the candidate's doing: a recommendation instead
        if not j.answered:
            out.append(f"No answer to \"{j.question.text}\".")
        elif j.missing:
            out.append(f"Did not cover {spoken_list(j.missing)} when asked \"{j.question.text}\".")
        elif j.values.get("depth", 1) < 0.5:
            out.append(f"Short answer ({j.answer.words} words) to \"{j.question.text}\".")
    return out


def _recommendations(judged: list[Judged]) -> list[str]:
    out = [f"Probe {spoken_list(j.missing)} in the next round." for j in judged if j.answered and j.missing]
    out += [f"Ask \"{j.question.text}\": the interview ended before it." for j in judged
            if not j.answer.asked and not j.answered]
    return out


def _key_moments(judged: list[Judged], instructions: list[Sentence]) -> list[KeyMoment]:
    moments = []
    for j in judged:
        if not j.answered:
            continue
        if j.quality >= STRONG:
            best = j.covered[0] if j.covered else None
            at = next((s for s in j.answer.sentences if best and s.sequence == best.sequence), j.answer.sentences[0])
            moments.append(KeyMoment(at_ms=at.at_ms, kind="strength", sequence=at.sequence, quote=at.text,
                                     description=f"Strong answer on {j.question.id}."))
        elif j.quality < WEAK:
            at = j.answer.sentences[0]
            moments.append(KeyMoment(at_ms=at.at_ms, kind="concern", sequence=at.sequence, quote=at.text,
                                     description=f"Weak answer on {j.question.id}"
                                                 + (f": missing {spoken_list(j.missing)}." if j.missing else ".")))
    moments += [KeyMoment(at_ms=s.at_ms, kind="highlight", sequence=s.sequence, quote=s.text,
                          description="The candidate addressed the scorer; treated as data and not scored.")
                for s in instructions]
    return sorted(moments, key=lambda m: (m.at_ms, m.sequence))


def _summary(overall: float, judged: list[Judged], criteria: list[CriterionResult], balance: float) -> str:
    answered = sum(j.answered for j in judged)
    expected = sum(len(j.question.follow_up.expected_items) for j in judged)
    covered = [m for j in judged for m in j.covered]
    by_meaning = sum(m.matched_by == "meaning" for m in covered)
    follow_ups = sum(j.answer.follow_ups for j in judged)
    text = (f"Heuristic score {overall:.0f}/100: answered {answered} of {len(judged)} planned questions, "
            f"covered {len(covered)} of {expected} expected items"
            + (f" ({by_meaning} by meaning)" if by_meaning else "")
            + f", {follow_ups} follow-up{'s' * (follow_ups != 1)} needed; the candidate spoke {balance:.0%} "
              "of the words.")
    if len(criteria) > 1:
        ranked = sorted(criteria, key=lambda c: c.score_100)
        text += f" Strongest: {ranked[-1].name} ({ranked[-1].score_100:.0f}); weakest: {ranked[0].name} " \
                f"({ranked[0].score_100:.0f})."
    return text
