"""The interviewer's templated speech (English); the greeting comes from the config."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Lines:
    thanks: str = "Thank you."
    first_question: str = "Let's begin. {question}"
    next_question: str = "Next question: {question}"
    last_question: str = "And the last question: {question}"
    resumed_question: str = "Let's continue where we left off. {question}"
    move_on_for_time: str = "In the interest of time, let's move on."
    follow_up_on_items: str = "Could you also tell me about {items}?"
    follow_up_on_short_answer: str = "Could you tell me a bit more about that, perhaps with a concrete example?"
    idle_prompt: str = "Are you still there? Take your time, and go ahead whenever you're ready."
    idle_goodbye: str = "I haven't heard from you for a while, so I'll end the interview here. Thank you for your time."
    time_up: str = (
        "We've reached the end of our time, so let's stop here. "
        "Thank you very much for your answers; the team will be in touch. Goodbye."
    )
    closing: str = "That was my last question. I really appreciate your time; the team will be in touch. Goodbye."
    stop_goodbye: str = "Of course, we'll stop here. Thank you for your time. Goodbye."
    reconnected: str = "Sorry, we lost the connection for a moment. I'm back now."


def joined(*parts: str) -> str:
    """Sentences said in one breath, empty ones skipped."""
    return " ".join(p.strip() for p in parts if p.strip())
