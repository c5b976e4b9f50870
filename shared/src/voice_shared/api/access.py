"""Access to a session: share levels and what each access level allows."""

from enum import StrEnum
from typing import Literal


class ShareLevel(StrEnum):
    """Each level includes the ones before it."""

    view = "view"
    view_transcript = "view_transcript"
    view_analytics = "view_analytics"


Access = Literal["manage", "view_analytics", "view_transcript", "view"]
# Each access level includes the ones after it.
LEVELS: tuple[Access, ...] = ("manage", "view_analytics", "view_transcript", "view")


def allows(granted: Access | None, needed: Access) -> bool:
    """Whether ``granted`` (None: no access) includes ``needed``."""
    return granted is not None and LEVELS.index(granted) <= LEVELS.index(needed)
