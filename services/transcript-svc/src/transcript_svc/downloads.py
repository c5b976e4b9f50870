"""Signed, expiring links to a recording in the local object store (S3 presigns its own).

Signed with the platform's join key (a production secret of its own) under an audience of their
own, so such a link is neither a user token nor a join token.
"""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from voice_shared.errors import NotFound
from voice_shared.settings import ServiceSettings

AUDIENCE = "voice-recording-download"
ALGORITHM = "HS256"


class DownloadLinks:
    def __init__(self, settings: ServiceSettings) -> None:
        self._secret = settings.join_token_secret.get_secret_value()
        self._public_url = settings.public_url.rstrip("/")

    def url(self, org_id: UUID, key: str, ttl_seconds: int) -> tuple[str, datetime]:
        expires_at = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
        token = jwt.encode({"aud": AUDIENCE, "org": str(org_id), "key": key, "exp": int(expires_at.timestamp())},
                           self._secret, algorithm=ALGORITHM)
        return f"{self._public_url}/api/voice/recordings/{token}", expires_at

    def verify(self, token: str) -> tuple[UUID, str]:
        """The org and key a link names; an expired, altered or foreign link is a 404 (it names nothing)."""
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], audience=AUDIENCE,
                                options={"require": ["exp", "aud", "org", "key"]})
            return UUID(claims["org"]), str(claims["key"])
        except (jwt.PyJWTError, ValueError, TypeError) as e:
            raise NotFound("This download link has expired or is not valid; ask for a new one.",
                           code="download_link_invalid") from e
