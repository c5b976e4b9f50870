"""Whether the candidate asks to end the interview, as opposed to merely saying "stop" or "end"."""

import re

_INTERVIEW = r"(?:the|this|our)\s+(?:interview|call|conversation|session|meeting|chat|discussion)"
# What may follow "stop"/"end" in a request to end the interview ("can we end this here?").
_OBJECT = rf"(?:{_INTERVIEW}|this|it|things|here|there|now|right\s+now|for\s+(?:today|now)|early|please)"
# After the request only the end of the clause or a new clause may come: "I have to go, sorry" is a request,
# "I have to go through the logs" and "I'd like to stop the service" are not.
_CLAUSE_END = (
    r"(?=\s*(?:$|[.,!?;:]|\b(?:please|now|because|since|as|so|sorry|thanks|thank|i|i'm|i've|we|today|soon)\b))"
)
_ACTION = (
    r"(?:stop|end|finish|quit|leave|hang\s+up|wrap\s+(?:this\s+|it\s+|things\s+)?up|call\s+it\s+(?:a\s+day|quits))"
)
_REQUEST = (
    r"(?:i'?d\s+like\s+to|i\s+would\s+like\s+to|i\s+(?:want|wish|need)\s+to|i\s+wanna|i'?d\s+(?:rather|prefer\s+to)"
    r"|can\s+we|could\s+we|can\s+i|could\s+i|may\s+i|may\s+we|shall\s+we|let'?s|let\s+us|we\s+should|please)"
)
_LEAVING = (
    r"(?:i\s+(?:have|need|must|got)|i'?ve\s+got|i\s+have\s+got)\s+to\s+(?:go|run|leave|head\s+out|hop\s+off|drop\s+off)"
    r"|i\s+must\s+(?:go|run|leave)|i\s+gotta\s+(?:go|run|leave)"
)
_NOT_CONTINUING = (
    r"(?:i\s+(?:don'?t|do\s+not)\s+(?:want|wish)\s+to|i'?d\s+rather\s+not|i\s+(?:can'?t|cannot))"
    rf"\s+(?:continue|go\s+on|carry\s+on|proceed)(?:\s+(?:with\s+)?(?:{_INTERVIEW}|this|it))?"
    rf"|i'?m\s+done\s+with\s+(?:{_INTERVIEW}|this)|i\s+quit"
)
_STOP_REQUEST = re.compile(
    rf"\b(?:{_REQUEST}\s+(?:just\s+)?{_ACTION}(?:\s+{_OBJECT})*{_CLAUSE_END}"
    rf"|(?:^|(?<=[.!?,]\s)|\bplease\s+|\bjust\s+|\b(?:can|could|would)\s+you\s+)(?:stop|end|finish|terminate|cancel)"
    rf"\s+{_INTERVIEW}\b"
    rf"|(?:{_LEAVING}|{_NOT_CONTINUING}){_CLAUSE_END})",
)
# Text that talks to the model's instructions is an injection attempt, never a stop request.
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}\b(?:instructions?|prompts?|rules|guidelines|system)\b"
    r"|\byou\s+are\s+now\b|\bsystem\s+prompt\b|\bnew\s+instructions?\b"
)


def asks_to_stop(utterance: str) -> bool:
    """A plain request by the candidate to end the interview now."""
    text = " ".join(utterance.lower().replace("\u2019", "'").split())
    if _INJECTION.search(text):
        return False
    return _STOP_REQUEST.search(text) is not None
