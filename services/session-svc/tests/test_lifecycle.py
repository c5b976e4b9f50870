"""The state machine, for every pair of states."""

import itertools

import pytest

from session_svc.lifecycle import ALLOWED, TERMINAL, can_transition, check_transition
from voice_shared.contracts import SessionStatus as S
from voice_shared.errors import Conflict

EXPECTED = {
    (S.pending, S.ready), (S.pending, S.failed), (S.pending, S.cancelled),
    (S.ready, S.active), (S.ready, S.failed), (S.ready, S.cancelled),
    (S.active, S.completed), (S.active, S.failed), (S.active, S.cancelled),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_pair(current: S, target: S) -> None:
    assert can_transition(current, target) == ((current, target) in EXPECTED)
    if (current, target) in EXPECTED:
        check_transition(current, target)
    else:
        with pytest.raises(Conflict) as err:
            check_transition(current, target)
        assert err.value.status == 409
        assert err.value.details["allowed"] == sorted(ALLOWED[current])
        assert str(current) in err.value.message


def test_terminal_states_are_final() -> None:
    assert TERMINAL == {S.completed, S.failed, S.cancelled}
    assert all(not ALLOWED[t] for t in TERMINAL)
    assert "is final" in pytest.raises(Conflict, check_transition, S.completed, S.active).value.message
