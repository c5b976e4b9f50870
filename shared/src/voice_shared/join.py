"""Candidate join tokens: signed by the platform, scoped to one session, granting nothing else.

A join token is an HS256 JWT under ``join_token_secret`` with its own issuer and audience, so
``TokenVerifier`` (user tokens) refuses it and ``JoinTokens`` refuses user tokens, whatever
the identity provider is. Links are deterministic for a given session and anchor time, so a
manager who views a session twice sees the same link.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from voice_shared.auth import bearer_token
from voice_shared.errors import NotFound, Unauthorized
from voice_shared.settings import ServiceSettings

JOIN_ISSUER = "voice-platform:join"
JOIN_AUDIENCE = "voice-candidate"
CANDIDATE_ROLE = "candidate"
ALGORITHM = "HS256"
# jti of a deterministic link: uuid5(this, "<session>:<anchor>").
_JTI_NAMESPACE = UUID("0b7c4f7e-9a51-4d0f-8f55-3d3f6f1a2c11")


class JoinClaims(BaseModel):
    """What a verified join token proves: the candidate of one session, until ``exp``."""

    model_config = ConfigDict(frozen=True)

    sid: UUID
    org: UUID
    role: Literal["candidate"]
    exp: int
    jti: str

    @property
    def session_id(self) -> UUID:
        return self.sid

    @property
    def org_id(self) -> UUID:
        return self.org

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, UTC)


class JoinTokens:
    """Mints and verifies join tokens with the platform's join key."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._secret = settings.join_token_secret.get_secret_value()
        self._ttl = timedelta(hours=settings.join_token_ttl_hours)
        self._public_url = settings.public_url.rstrip("/")

    def mint(
        self, session_id: UUID, org_id: UUID, anchor: datetime, expires_at: datetime | None = None
    ) -> tuple[str, datetime]:
        """The token valid from ``anchor`` until ``expires_at`` (the session's join deadline), else for the
        configured TTL; and its expiry."""
        expires_at = expires_at or anchor + self._ttl
        claims = {
            "iss": JOIN_ISSUER,
            "aud": JOIN_AUDIENCE,
            "sub": f"candidate:{session_id}",
            "role": CANDIDATE_ROLE,
            "sid": str(session_id),
            "org": str(org_id),
            "exp": int(expires_at.timestamp()),
            "jti": uuid.uuid5(_JTI_NAMESPACE, f"{session_id}:{anchor.isoformat()}").hex,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires_at

    def url(self, token: str) -> str:
        """The link a candidate opens: the gateway's join page."""
        return f"{self._public_url}/join/{token}"

    def verify(self, token: str) -> JoinClaims:
        """The token's claims, or Unauthorized (``join_link_expired`` / ``invalid_join_token``)."""
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=[ALGORITHM], audience=JOIN_AUDIENCE, issuer=JOIN_ISSUER,
                options={"require": ["exp", "iss", "aud", "sid", "org", "role", "jti"]},
            )
        except jwt.ExpiredSignatureError as e:
            raise Unauthorized("This join link has expired.", code="join_link_expired") from e
        except (jwt.PyJWTError, ValueError) as e:
            raise Unauthorized("This join link is not valid.", code="invalid_join_token") from e
        try:
            return JoinClaims.model_validate(claims)
        except ValidationError as e:
            raise Unauthorized("This join link is not valid.", code="invalid_join_token") from e


async def verify_join_token(request: Request) -> JoinClaims:
    """FastAPI dependency: the candidate's verified join token (``Authorization: Bearer``).

    When the route has a ``session_id`` path parameter, the token must be for that session;
    a token for another session is a 404, as if the session did not exist.
    """
    claims = JoinTokens(request.app.state.settings).verify(bearer_token(request))
    wanted = request.path_params.get("session_id")
    if wanted is not None and not _same_session(claims.sid, wanted):
        raise NotFound("No such session.", code="session_not_found")
    return claims


def _same_session(sid: UUID, path_value: object) -> bool:
    try:
        return UUID(str(path_value)) == sid
    except ValueError:
        return False


CandidateDep = Annotated[JoinClaims, Depends(verify_join_token)]
