"""Token verification: HS256 dev tokens, RS256/ES256 from a JWKS URL, and what must be refused."""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from voice_shared.auth import Role, TokenVerifier, mint_dev_token
from voice_shared.errors import Unauthorized
from voice_shared.settings import ServiceSettings

ISSUER, AUDIENCE = "https://idp.example.test/", "voice-platform"


def dev_settings(**overrides: Any) -> ServiceSettings:
    values: dict[str, Any] = {
        "environment": "test", "jwt_secret": "test-secret-" + "x" * 32, "jwks_url": None,
        "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE,
    }
    return ServiceSettings(**{**values, **overrides})


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    body = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300,
            "orgs": {str(uuid.uuid4()): "org_user"}}
    return {**body, **overrides}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], body: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"


async def assert_rejected(verifier: TokenVerifier, token: str, code: str = "invalid_token") -> None:
    with pytest.raises(Unauthorized) as raised:
        await verifier.verify(token)
    assert raised.value.code == code


# --- HS256 development tokens ----------------------------------------------------------------


async def test_dev_token_verifies_with_its_claims() -> None:
    settings = dev_settings()
    org, workspace = uuid.uuid4(), uuid.uuid4()
    token = mint_dev_token(settings, "alice", {org: Role.org_admin}, workspaces=[workspace],
                           platform_admin=True, service="bot")

    principal = await TokenVerifier(settings).verify(token)

    assert principal.sub == "alice"
    assert principal.orgs == {org: Role.org_admin}
    assert principal.workspaces == {workspace}
    assert principal.platform_admin and principal.service == "bot"


async def test_expired_token_is_rejected() -> None:
    settings = dev_settings()
    token = mint_dev_token(settings, "alice", ttl_seconds=-5)

    await assert_rejected(TokenVerifier(settings), token, code="token_expired")


@pytest.mark.parametrize("field", ["jwt_audience", "jwt_issuer", "jwt_secret"])
async def test_token_for_another_audience_issuer_or_secret_is_rejected(field: str) -> None:
    other = dev_settings(**{field: "something-else-entirely-0123456789abcdef"})
    token = mint_dev_token(other, "alice")

    await assert_rejected(TokenVerifier(dev_settings()), token)


async def test_token_without_expiry_is_rejected() -> None:
    settings = dev_settings()
    body = claims()
    del body["exp"]
    token = jwt.encode(body, settings.jwt_secret.get_secret_value(), algorithm="HS256")

    await assert_rejected(TokenVerifier(settings), token)


async def test_alg_none_is_rejected() -> None:
    token = unsigned_token({"alg": "none", "typ": "JWT"}, claims()) + "."

    await assert_rejected(TokenVerifier(dev_settings()), token)


@pytest.mark.parametrize("garbage", ["", "not-a-jwt", "a.b.c", "e30.e30.", "Bearer x.y.z"])
async def test_garbage_is_rejected(garbage: str) -> None:
    await assert_rejected(TokenVerifier(dev_settings()), garbage)


async def test_malformed_claims_are_rejected() -> None:
    settings = dev_settings()
    secret = settings.jwt_secret.get_secret_value()
    token = jwt.encode(claims(orgs={"not-a-uuid": "emperor"}), secret, algorithm="HS256")

    await assert_rejected(TokenVerifier(settings), token)


# --- RS256 / ES256 from a JWKS URL -----------------------------------------------------------


class Keys:
    """An RSA and an EC P-256 key pair, published as a JWKS."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.jwks = {"keys": [
            {**RSAAlgorithm.to_jwk(self.rsa.public_key(), as_dict=True),
             "kid": "rsa-1", "use": "sig", "alg": "RS256"},
            {**ECAlgorithm.to_jwk(self.ec.public_key(), as_dict=True),
             "kid": "ec-1", "use": "sig", "alg": "ES256"},
        ]}

    def rsa_public_pem(self) -> bytes:
        return self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture(scope="module")
def jwks_url(keys: Keys) -> Iterator[str]:
    """A JWKS endpoint on 127.0.0.1, served from a thread."""
    body = json.dumps(keys.jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


@pytest.fixture
def jwks_verifier(jwks_url: str, monkeypatch: pytest.MonkeyPatch) -> TokenVerifier:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # PyJWKClient uses urllib, which honours proxies
    return TokenVerifier(dev_settings(jwks_url=jwks_url))


@pytest.mark.parametrize(("alg", "kid"), [("RS256", "rsa-1"), ("ES256", "ec-1")])
async def test_jwks_token_verifies(
    jwks_verifier: TokenVerifier, keys: Keys, alg: str, kid: str
) -> None:
    org = uuid.uuid4()
    private = keys.rsa if alg == "RS256" else keys.ec
    token = jwt.encode(claims(sub="bob", orgs={str(org): "org_owner"}), private, algorithm=alg,
                       headers={"kid": kid})

    principal = await jwks_verifier.verify(token)

    assert principal.sub == "bob" and principal.orgs == {org: Role.org_owner}


async def test_jwks_mode_rejects_hs256_signed_with_the_public_key(
    jwks_verifier: TokenVerifier, keys: Keys
) -> None:
    """Algorithm confusion: an HMAC keyed with the published RSA key must not pass as RS256."""
    signing_input = unsigned_token({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims())
    mac = hmac.new(keys.rsa_public_pem(), signing_input.encode(), hashlib.sha256).digest()

    await assert_rejected(jwks_verifier, f"{signing_input}.{b64(mac)}")


async def test_jwks_mode_rejects_dev_tokens(jwks_verifier: TokenVerifier) -> None:
    token = mint_dev_token(dev_settings(), "alice")

    await assert_rejected(jwks_verifier, token)


async def test_jwks_mode_rejects_a_key_it_does_not_publish(jwks_verifier: TokenVerifier) -> None:
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(), impostor, algorithm="RS256", headers={"kid": "rsa-1"})

    await assert_rejected(jwks_verifier, token)


async def test_jwks_mode_rejects_an_unknown_kid(jwks_verifier: TokenVerifier, keys: Keys) -> None:
    token = jwt.encode(claims(), keys.rsa, algorithm="RS256", headers={"kid": "rotated-away"})

    await assert_rejected(jwks_verifier, token)
