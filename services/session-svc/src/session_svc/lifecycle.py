"""The session state machine: the one place that knows which transitions are allowed."""

from voice_shared.contracts import SessionStatus
from voice_shared.errors import Conflict

S = SessionStatus

TERMINAL = frozenset(s for s in S if s.terminal)

ALLOWED: dict[SessionStatus, frozenset[SessionStatus]] = {
    S.pending: frozenset({S.ready, S.failed, S.cancelled}),
    S.ready: frozenset({S.active, S.failed, S.cancelled}),
    S.active: frozenset({S.completed, S.failed, S.cancelled}),
    S.completed: frozenset(),
    S.failed: frozenset(),
    S.cancelled: frozenset(),
}


def can_transition(current: SessionStatus, target: SessionStatus) -> bool:
    return target in ALLOWED[current]


def check_transition(current: SessionStatus, target: SessionStatus) -> None:
    """Raise a 409 that names the allowed transitions when ``current -> target`` is not one."""
    if can_transition(current, target):
        return
    allowed = sorted(ALLOWED[current])
    hint = f"allowed from {current}: {', '.join(allowed)}" if allowed else f"{current} is final"
    raise Conflict(
        f"A session cannot go from {current} to {target}; {hint}.",
        code="invalid_transition",
        details={"from": current, "to": target, "allowed": allowed},
    )
