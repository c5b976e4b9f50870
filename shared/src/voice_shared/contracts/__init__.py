"""Versioned event contracts and the envelope that carries them."""

from voice_shared.contracts.commands import *  # noqa: F403  (the contracts are the package's API)
from voice_shared.contracts.envelope import (
    Envelope,
    Event,
    all_contracts,
    contract_for,
    envelope,
)
from voice_shared.contracts.events import *  # noqa: F403
from voice_shared.contracts.events import SessionStatus

__all__ = ["Envelope", "Event", "SessionStatus", "all_contracts", "contract_for", "envelope"]
