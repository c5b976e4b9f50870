"""JWT verification (HS256 development secret, or RS256/ES256 from a JWKS URL) and principals."""

import asyncio
import time
import uuid
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

import jwt
from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voice_shared.errors import Forbidden, Unauthorized
from voice_shared.settings import ServiceSettings

JWKS_ALGORITHMS = ["RS256", "ES256"]
DEV_ALGORITHMS = ["HS256"]


class Role(StrEnum):
    """A user's role in one organisation."""

    org_user = "org_user"
    org_admin = "org_admin"
    org_owner = "org_owner"


class Principal(BaseModel):
    """Who is calling, as proven by a verified token."""

    model_config = ConfigDict(frozen=True)

    sub: str = Field(min_length=1)
    orgs: dict[UUID, Role] = Field(default_factory=dict)
    workspaces: frozenset[UUID] = frozenset()
    platform_admin: bool = False
    service: str | None = None  # set for service identities (e.g. "bot"), never for users
    exp: int | None = None  # when the token stops being valid (seconds since the epoch)

    def role_in(self, org_id: UUID) -> Role | None:
        return self.orgs.get(org_id)

    def is_member(self, org_id: UUID) -> bool:
        return org_id in self.orgs

    def is_org_admin(self, org_id: UUID) -> bool:
        return self.orgs.get(org_id) in (Role.org_admin, Role.org_owner)


class TokenVerifier:
    """Verifies bearer tokens with pinned algorithms, issuer and audience."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True) if settings.jwks_url else None
        self._secret = settings.jwt_secret.get_secret_value()

    async def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                # PyJWKClient fetches over blocking HTTP on a cache miss.
                key: Any = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
                algorithms = JWKS_ALGORITHMS
            else:
                key, algorithms = self._secret, DEV_ALGORITHMS
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as e:
            raise Unauthorized("The token has expired.", code="token_expired") from e
        except (jwt.PyJWTError, ValueError) as e:
            raise Unauthorized(f"The token is not valid: {e}.", code="invalid_token") from e
        try:
            return Principal.model_validate(claims, strict=False)
        except ValidationError as e:
            raise Unauthorized("The token's claims are malformed.", code="invalid_token") from e


def mint_dev_token(
    settings: ServiceSettings,
    sub: str,
    orgs: dict[UUID, Role] | None = None,
    *,
    workspaces: list[UUID] | None = None,
    platform_admin: bool = False,
    service: str | None = None,
    ttl_seconds: int = 12 * 3600,
) -> str:
    """Sign a development token with the HS256 secret (the CLI's `voice token`)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "orgs": {str(k): str(v) for k, v in (orgs or {}).items()},
    }
    if workspaces:
        claims["workspaces"] = [str(w) for w in workspaces]
    if platform_admin:
        claims["platform_admin"] = True
    if service:
        claims["service"] = service
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send 'Authorization: Bearer <token>'.", code="missing_token")
    return token.strip()


async def authenticate(request: Request) -> Principal:
    """FastAPI dependency: the verified caller, or 401."""
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(bearer_token(request))


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def require_service(principal: PrincipalDep) -> Principal:
    """The caller if it is a service: internal endpoints refuse users (403 service_only).

    As a dependency (``ServiceDep``) a user is refused before the request's parameters are looked at.
    """
    if principal.service is None:
        raise Forbidden("Only service identities may call internal endpoints.", code="service_only")
    return principal


async def _service_caller(principal: PrincipalDep) -> Principal:
    return require_service(principal)


# Dependencies are async, even trivial ones: FastAPI runs a plain function in a worker thread.
ServiceDep = Annotated[Principal, Depends(_service_caller)]
