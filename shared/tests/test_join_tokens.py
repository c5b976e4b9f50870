"""Candidate join tokens: scoped to one session, expiring, and never interchangeable with user tokens."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from voice_shared.auth import Role, TokenVerifier, mint_dev_token
from voice_shared.errors import Unauthorized, install_error_handlers
from voice_shared.join import JOIN_AUDIENCE, JOIN_ISSUER, CandidateDep, JoinTokens
from voice_shared.settings import DEV_JOIN_TOKEN_SECRET, DEV_JWT_SECRET, ServiceSettings


def settings(**overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {"environment": "test", "join_token_ttl_hours": 2,
                              "public_url": "https://interviews.example.com/"}
    return ServiceSettings(**{**values, **overrides})


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    body = {"iss": JOIN_ISSUER, "aud": JOIN_AUDIENCE, "role": "candidate", "sid": str(uuid.uuid4()),
            "org": str(uuid.uuid4()), "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex}
    return {**body, **overrides}


def signed(body: dict[str, Any], secret: str = DEV_JOIN_TOKEN_SECRET) -> str:
    return jwt.encode(body, secret, algorithm="HS256")


def rejected(tokens: JoinTokens, token: str, code: str = "invalid_join_token") -> None:
    with pytest.raises(Unauthorized) as raised:
        tokens.verify(token)
    assert raised.value.code == code


def test_a_minted_token_verifies_as_the_candidate_of_its_session() -> None:
    tokens = JoinTokens(settings())
    session, org = uuid.uuid4(), uuid.uuid4()
    anchor = datetime.now(UTC)
    token, expires_at = tokens.mint(session, org, anchor)
    got = tokens.verify(token)
    assert (got.session_id, got.org_id, got.role) == (session, org, "candidate")
    assert expires_at == anchor + timedelta(hours=2)
    assert got.expires_at == expires_at.replace(microsecond=0)
    assert tokens.url(token) == f"https://interviews.example.com/join/{token}"


def test_the_same_session_and_anchor_give_the_same_link_and_a_new_anchor_a_new_one() -> None:
    tokens = JoinTokens(settings())
    session, org, anchor = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    first, _ = tokens.mint(session, org, anchor)
    assert tokens.mint(session, org, anchor)[0] == first
    later, _ = tokens.mint(session, org, anchor + timedelta(minutes=5))
    assert later != first and tokens.verify(later).jti != tokens.verify(first).jti


def test_an_expired_link_is_refused_as_expired() -> None:
    tokens = JoinTokens(settings())
    token, _ = tokens.mint(uuid.uuid4(), uuid.uuid4(), datetime.now(UTC) - timedelta(hours=3))
    rejected(tokens, token, "join_link_expired")


@pytest.mark.parametrize("change", [
    {"aud": "voice-platform"}, {"iss": "voice-dev"}, {"role": "org_admin"}, {"sid": "not-a-uuid"},
    {"org": None},
])
def test_wrong_or_malformed_claims_are_refused(change: dict[str, Any]) -> None:
    rejected(JoinTokens(settings()), signed(claims(**change)))


@pytest.mark.parametrize("missing", ["exp", "sid", "org", "role", "jti", "aud", "iss"])
def test_each_required_claim_is_required(missing: str) -> None:
    body = claims()
    del body[missing]
    rejected(JoinTokens(settings()), signed(body))


def test_tampered_other_key_and_unsigned_tokens_are_refused() -> None:
    tokens = JoinTokens(settings())
    good = signed(claims())
    head, body, sig = good.split(".")
    rejected(tokens, f"{head}.{body}.{sig[:-4]}AAAA")
    rejected(tokens, signed(claims(), "another-secret-of-at-least-32-bytes!"))
    rejected(tokens, jwt.encode(claims(), key=None, algorithm="none"))  # type: ignore[arg-type]
    rejected(tokens, "not-a-token")


def test_a_user_token_is_not_a_join_token() -> None:
    s = settings()
    user = mint_dev_token(s, "alice", {uuid.uuid4(): Role.org_owner})
    rejected(JoinTokens(s), user)


async def test_a_join_token_is_not_a_user_token() -> None:
    s = settings()
    token, _ = JoinTokens(s).mint(uuid.uuid4(), uuid.uuid4(), datetime.now(UTC))
    with pytest.raises(Unauthorized):
        await TokenVerifier(s).verify(token)


async def test_a_join_token_is_not_a_user_token_even_if_both_keys_were_the_same() -> None:
    """The audience and issuer differ too, so a misconfigured key alone does not merge them."""
    s = settings(join_token_secret=DEV_JWT_SECRET)
    token, _ = JoinTokens(s).mint(uuid.uuid4(), uuid.uuid4(), datetime.now(UTC))
    with pytest.raises(Unauthorized):
        await TokenVerifier(s).verify(token)
    rejected(JoinTokens(s), mint_dev_token(s, "alice", {uuid.uuid4(): Role.org_owner}))


def test_production_refuses_the_development_join_key_and_a_shared_key() -> None:
    prod = {"environment": "production", "jwt_secret": "prod-user-secret-" + "x" * 32}
    with pytest.raises(ValidationError, match="VOICE_JOIN_TOKEN_SECRET"):
        ServiceSettings(**prod)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="VOICE_JOIN_TOKEN_SECRET"):
        ServiceSettings(**prod, join_token_secret=prod["jwt_secret"])  # type: ignore[arg-type]
    ok = ServiceSettings(**prod, join_token_secret="prod-join-secret-" + "y" * 32)  # type: ignore[arg-type]
    assert ok.join_token_secret.get_secret_value().startswith("prod-join")


# --- the dependency other routes use to accept a candidate -------------------------------------


@pytest.fixture
def app() -> FastAPI:
    app = FastAPI()
    app.state.settings = settings()
    install_error_handlers(app)

    @app.post("/sessions/{session_id}/thing")
    async def for_a_session(session_id: uuid.UUID, candidate: CandidateDep) -> dict[str, str]:
        return {"sid": str(candidate.sid)}

    @app.get("/mine")
    async def without_a_session(candidate: CandidateDep) -> dict[str, str]:
        return {"sid": str(candidate.sid)}

    return app


async def test_candidate_dependency_accepts_its_own_session_only(app: FastAPI) -> None:
    tokens = JoinTokens(app.state.settings)
    session = uuid.uuid4()
    token, _ = tokens.mint(session, uuid.uuid4(), datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.post(f"/sessions/{session}/thing", headers=headers)
        assert (r.status_code, r.json()) == (200, {"sid": str(session)})
        r = await client.post(f"/sessions/{str(session).upper()}/thing", headers=headers)
        assert r.status_code == 200
        r = await client.post(f"/sessions/{uuid.uuid4()}/thing", headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "session_not_found")
        assert (await client.get("/mine", headers=headers)).json() == {"sid": str(session)}
        r = await client.get("/mine")
        assert (r.status_code, r.json()["error"]["code"]) == (401, "missing_token")
        user = mint_dev_token(app.state.settings, "alice", {uuid.uuid4(): Role.org_owner})
        r = await client.post(f"/sessions/{session}/thing", headers={"Authorization": f"Bearer {user}"})
        assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_join_token")

