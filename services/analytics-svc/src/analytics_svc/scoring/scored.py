"""What a scorer returns: the result and the facts of how it was made (for the provenance)."""

from dataclasses import dataclass

from voice_shared.api.analytics import AnalyticsResult


class ScoringFailed(Exception):
    """The scorer could not give a valid result; recorded as a failed version, never replaced by a made-up score."""

    def __init__(self, code: str, message: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.code = code  # invalid_output | timeout | refusal | unavailable | credential_missing | invalid_config
        self.message = message
        self.attempts = attempts

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Scored:
    result: AnalyticsResult
    scorer_version: str
    attempts: int = 1
    quotes_dropped: int = 0
    model: str | None = None
    base_url_host: str | None = None
    prompt_hash: str | None = None
