"""Credentials through the gateway, against real Postgres and fake provider APIs on 127.0.0.1:
roles, one active key per service per scope, masking, validation, the internal endpoint for the
bot, resolution order, and tenant isolation."""

import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url

from session_svc.credentials import providers
from session_svc.credentials.resolve import CredentialMissing, resolve_secret
from session_svc.settings import SessionSettings
from voice_shared.api.credentials import CredentialService
from voice_shared.db import make_engine
from voice_shared.testing import auth

ORG_PATH = "/api/voice/credentials"
ADMIN_PATH = "/api/voice/admin/credentials"

# --- fake provider APIs ----------------------------------------------------------------------


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (the timeout test) is expected, not news."""


@dataclass
class FakeProvider:
    """One provider's API: 200 for the good key sent exactly as the provider wants it, else 401."""

    path: str
    header: str
    prefix: str
    required: dict[str, str] = field(default_factory=dict)
    good_key: str = field(default_factory=lambda: "good-" + uuid.uuid4().hex)
    status: int | None = None  # forces an answer (e.g. 500) whatever the key
    delay: float = 0.0
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def start(self) -> "FakeProvider":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
                fake.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                time.sleep(fake.delay)
                if fake.status is not None:
                    status = fake.status
                elif (self.path == fake.path and self.headers.get(fake.header) == fake.prefix + fake.good_key
                      and all(self.headers.get(k) == v for k, v in fake.required.items())):
                    status = 200
                else:
                    status = 401
                # The body echoes the key, as some providers' errors do: it must never be relayed.
                body = json.dumps({"status": status, "echo": self.headers.get(fake.header)}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


CARTESIA_VERSION = "2024-11-13"


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, FakeProvider]]:
    started = {
        "daily": FakeProvider("/v1/", "Authorization", "Bearer ").start(),
        "deepgram": FakeProvider("/v1/projects", "Authorization", "Token ").start(),
        "cartesia": FakeProvider("/voices", "X-API-Key", "", {"Cartesia-Version": CARTESIA_VERSION}).start(),
        "openai": FakeProvider("/v1/models", "Authorization", "Bearer ").start(),
    }
    yield started
    for fake in started.values():
        fake.stop()


@pytest.fixture
def reset_fakes(fakes: dict[str, FakeProvider]) -> Iterator[dict[str, FakeProvider]]:
    for fake in fakes.values():
        fake.status, fake.delay = None, 0.0
        fake.seen.clear()
    yield fakes


@dataclass
class Platform:
    gateway: httpx.AsyncClient
    svc: httpx.AsyncClient
    settings: SessionSettings
    db: Any


@pytest.fixture(scope="module")
async def platform(platform_env: dict[str, str], fakes: dict[str, FakeProvider]) -> AsyncIterator[Platform]:
    """session-svc (provider URLs on the fakes) and the gateway in front of it. Only their HTTP
    routes are used, so their lifespans (broker, relay) are not started."""
    from gateway.app import create_app as create_gateway
    from gateway.settings import GatewaySettings
    from session_svc.app import create_app

    settings = SessionSettings(
        **platform_env,  # type: ignore[arg-type]
        daily_api_url=fakes["daily"].url, deepgram_api_url=fakes["deepgram"].url,
        cartesia_api_url=fakes["cartesia"].url + "/", openai_api_url=fakes["openai"].url,
        cartesia_api_version=CARTESIA_VERSION, provider_timeout_seconds=2,
    )
    svc_app = create_app(settings)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=svc_app), base_url="http://session-svc") as svc,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=svc_app), base_url="http://session-svc") as up,
    ):
        gateway_app = create_gateway(GatewaySettings(**platform_env), upstreams={"session-svc": up})  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app),
                                     base_url="http://gateway") as gateway:
            yield Platform(gateway, svc, settings, svc_app.state.sessions)
    await svc_app.state.sessions.kw["bind"].dispose()


def superuser_url(env: dict[str, str]) -> str:
    """The run's database as the server's superuser (VOICE_TEST_PG), which Row Level Security spares."""
    server = make_url(os.environ.get("VOICE_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"))
    return server.set(database=make_url(env["database_url"]).database).render_as_string(hide_password=False)


def new_secret(tag: str = "key") -> str:
    return f"{tag}-{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"


def org_url(org: uuid.UUID, suffix: str = "") -> str:
    return f"{ORG_PATH}{suffix}?orgId={org}"


async def create(client: httpx.AsyncClient, url: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    body.setdefault("name", f"key {uuid.uuid4().hex[:6]}")
    r = await client.post(url, json=body, headers=headers)
    assert r.status_code == 201, r.text
    assert body["secret"].strip() not in r.text
    return r.json()


@asynccontextmanager
async def platform_credential(
    p: Platform, token: Any, service: str, secret: str, **body: Any
) -> AsyncIterator[dict[str, Any]]:
    """A platform credential for the test's duration (platform scope is shared by the whole run)."""
    admin = auth(token(None, platform_admin=True))
    created = await create(p.gateway, ADMIN_PATH, admin, service=service, secret=secret, **body)
    try:
        yield created
    finally:
        r = await p.gateway.delete(f"{ADMIN_PATH}/{created['id']}", headers=admin)
        assert r.status_code == 204, r.text


def resolve_url(org: uuid.UUID, service: str) -> str:
    return f"/internal/credentials/{service}?orgId={org}"


# --- create, read, masking ---------------------------------------------------------------------


async def test_create_shows_a_masked_tail_and_fingerprint_never_the_secret(platform: Platform, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    h = auth(token(org, "org_owner", sub="owner-1"))
    secret = new_secret("sk-live")

    created = await create(platform.gateway, org_url(org), h, service="openai", secret=f"  {secret}\n",
                           metadata={"project": "hiring"})

    assert created["masked"] == "****" + secret[-4:]
    assert created["fingerprint"] == "sha256:" + hashlib.sha256(secret.encode()).hexdigest()[:16]
    assert created["scope"] == "org" and created["orgId"] == str(org) and created["active"]
    assert created["backend"] == "local" and created["createdBy"] == "owner-1"
    assert created["metadata"] == {"project": "hiring"} and created["lastValidatedAt"] is None
    assert "secret" not in created
    one = await platform.gateway.get(org_url(org, f"/{created['id']}"), headers=h)
    page = await platform.gateway.get(org_url(org), headers=h)
    assert one.json() == created
    assert page.json()["items"] == [created] and page.json()["total"] == 1
    for answer in (one, page):
        assert secret not in answer.text


async def test_secrets_that_cannot_travel_in_a_header_are_refused_without_echo(platform: Platform, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    h = auth(token(org, "org_admin"))
    tail = uuid.uuid4().hex
    for bad in (f"two words {tail}", f"caf\u00e9-{tail}", f"tab\t{tail}", "   ", ""):
        r = await platform.gateway.post(org_url(org), headers=h,
                                        json={"service": "daily", "name": "x", "secret": bad})
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "validation_failed"
        assert tail not in r.text
    r = await platform.gateway.post(org_url(org), headers=h, json={"service": "zoom", "name": "x", "secret": "k"})
    assert r.status_code == 422


async def test_list_filters_and_pages(platform: Platform, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    h = auth(token(org, "org_admin"))
    for service in ("daily", "deepgram", "cartesia"):
        await create(platform.gateway, org_url(org), h, service=service, secret=new_secret())
    await create(platform.gateway, org_url(org), h, service="daily", secret=new_secret(), active=False)

    dailies = (await platform.gateway.get(org_url(org) + "&service=daily", headers=h)).json()
    active = (await platform.gateway.get(org_url(org) + "&active=true", headers=h)).json()
    first = (await platform.gateway.get(org_url(org) + "&limit=3", headers=h)).json()
    rest = (await platform.gateway.get(org_url(org) + f"&limit=3&cursor={first['nextCursor']}", headers=h)).json()

    assert dailies["total"] == 2 and {c["service"] for c in dailies["items"]} == {"daily"}
    assert active["total"] == 3 and all(c["active"] for c in active["items"])
    assert first["total"] == 4 and len(first["items"]) == 3 and len(rest["items"]) == 1
    assert rest["nextCursor"] is None
    assert not {c["id"] for c in first["items"]} & {c["id"] for c in rest["items"]}


# --- roles -------------------------------------------------------------------------------------


async def test_only_org_admins_and_owners_manage_org_credentials(platform: Platform, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    owner = auth(token(org, "org_owner"))
    existing = await create(platform.gateway, org_url(org), owner, service="daily", secret=new_secret())
    cid = existing["id"]
    calls = [("POST", org_url(org), {"service": "deepgram", "name": "x", "secret": new_secret()}),
             ("GET", org_url(org), None), ("GET", org_url(org, f"/{cid}"), None),
             ("PATCH", org_url(org, f"/{cid}"), {"name": "renamed"}),
             ("DELETE", org_url(org, f"/{cid}"), None), ("POST", org_url(org, f"/{cid}/validate"), None)]
    member = auth(token(org, "org_user"))
    for method, url, body in calls:
        r = await platform.gateway.request(method, url, json=body, headers=member)
        assert r.status_code == 403 and r.json()["error"]["code"] == "admin_required", (method, url, r.text)
    # A platform admin is not an org admin: without membership the org does not exist for them.
    for method, url, body in calls:
        r = await platform.gateway.request(method, url, json=body, headers=auth(token(None, platform_admin=True)))
        assert r.status_code == 404, (method, url, r.text)
    assert (await platform.gateway.get(org_url(org, f"/{cid}"), headers=owner)).json() == existing


async def test_only_platform_admins_manage_platform_credentials(platform: Platform, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    async with platform_credential(platform, token, "openai", new_secret(), active=False) as cred:
        cid = cred["id"]
        assert cred["scope"] == "platform" and cred["orgId"] is None
        calls = [("POST", ADMIN_PATH, {"service": "openai", "name": "x", "secret": new_secret(), "active": False}),
                 ("GET", ADMIN_PATH, None), ("GET", f"{ADMIN_PATH}/{cid}", None),
                 ("PATCH", f"{ADMIN_PATH}/{cid}", {"name": "mine now"}),
                 ("DELETE", f"{ADMIN_PATH}/{cid}", None), ("POST", f"{ADMIN_PATH}/{cid}/validate", None)]
        outsiders = {"org_owner": auth(token(org, "org_owner")), "org_admin": auth(token(org, "org_admin")),
                     "service": auth(token(None, service="bot")),
                     "service_claiming_admin": auth(token(None, platform_admin=True, service="bot"))}
        for who, headers in outsiders.items():
            for method, url, body in calls:
                r = await platform.gateway.request(method, url, json=body, headers=headers)
                assert r.status_code == 403, (who, method, url, r.text)
                assert r.json()["error"]["code"] == "platform_admin_required"
        admin = auth(token(None, platform_admin=True))
        listed = (await platform.gateway.get(ADMIN_PATH, headers=admin)).json()
        assert cid in {c["id"] for c in listed["items"]}
        assert all(c["scope"] == "platform" for c in listed["items"])
        # Platform credentials are not an org's: an org admin cannot reach them by id.
        r = await platform.gateway.get(org_url(org, f"/{cid}"), headers=outsiders["org_admin"])
        assert r.status_code == 404 and r.json()["error"]["code"] == "credential_not_found"


# --- one active credential per service per scope -------------------------------------------------


async def test_one_active_per_service_per_scope_and_activation_swaps_atomically(platform: Platform, token) -> None:  # type: ignore[no-untyped-def]
    org, other_org = uuid.uuid4(), uuid.uuid4()
    h = auth(token(org, "org_admin"))
    first = await create(platform.gateway, org_url(org), h, service="deepgram", secret=new_secret())
    # Another org and another service are other scopes.
    await create(platform.gateway, org_url(other_org), auth(token(other_org, "org_admin")),
                 service="deepgram", secret=new_secret())
    await create(platform.gateway, org_url(org), h, service="cartesia", secret=new_secret())

    taken = await platform.gateway.post(org_url(org), headers=h,
                                        json={"service": "deepgram", "name": "second", "secret": new_secret()})
    assert taken.status_code == 409
    error = taken.json()["error"]
    assert error["code"] == "credential_already_active"
    assert error["details"] == {"service": "deepgram", "activeCredentialId": first["id"]}
    assert "PATCH" in error["message"] and "Deepgram" in error["message"]

    second_secret = new_secret()
    second = await create(platform.gateway, org_url(org), h, service="deepgram", secret=second_secret, active=False)
    swapped = await platform.gateway.patch(org_url(org, f"/{second['id']}"), json={"active": True}, headers=h)
    assert swapped.status_code == 200 and swapped.json()["active"]
    actives = (await platform.gateway.get(org_url(org) + "&service=deepgram&active=true", headers=h)).json()
    assert [c["id"] for c in actives["items"]] == [second["id"]]
    old = (await platform.gateway.get(org_url(org, f"/{first['id']}"), headers=h)).json()
    assert old["active"] is False
    resolved = await platform.svc.get(resolve_url(org, "deepgram"), headers=auth(token(None, service="bot")))
    assert resolved.json()["secret"] == second_secret

    # Re-activating the old one swaps back; deactivating leaves none active.
    r = await platform.gateway.patch(org_url(org, f"/{first['id']}"), json={"active": True}, headers=h)
    assert r.json()["active"]
    r = await platform.gateway.patch(org_url(org, f"/{first['id']}"), json={"active": False}, headers=h)
    assert r.json()["active"] is False
    actives = (await platform.gateway.get(org_url(org) + "&service=deepgram&active=true", headers=h)).json()
    assert actives["total"] == 0


async def test_update_replaces_the_secret_and_clears_the_last_validation(
    platform: Platform, token, reset_fakes  # type: ignore[no-untyped-def]
) -> None:
    org = uuid.uuid4()
    h = auth(token(org, "org_admin"))
    good = reset_fakes["openai"].good_key
    cred = await create(platform.gateway, org_url(org), h, service="openai", secret=good)
    await platform.gateway.post(org_url(org, f"/{cred['id']}/validate"), headers=h)
    validated = (await platform.gateway.get(org_url(org, f"/{cred['id']}"), headers=h)).json()
    assert validated["lastValidationOk"] is True

    replacement = new_secret("sk-new")
    r = await platform.gateway.patch(org_url(org, f"/{cred['id']}"), headers=h,
                                     json={"secret": replacement, "name": "rotated", "metadata": {"v": 2}})

    updated = r.json()
    assert r.status_code == 200 and replacement not in r.text
    assert updated["masked"] == "****" + replacement[-4:] and updated["fingerprint"] != cred["fingerprint"]
    assert updated["name"] == "rotated" and updated["metadata"] == {"v": 2}
    assert updated["lastValidatedAt"] is None and updated["lastValidationOk"] is None
    resolved = await platform.svc.get(resolve_url(org, "openai"), headers=auth(token(None, service="bot")))
    assert resolved.json()["secret"] == replacement
    r = await platform.gateway.patch(org_url(org, f"/{cred['id']}"), headers=h, json={"secret": None})
    assert r.status_code == 422


async def test_delete_removes_the_credential(platform: Platform, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    h = auth(token(org, "org_admin"))
    cred = await create(platform.gateway, org_url(org), h, service="cartesia", secret=new_secret())

    r = await platform.gateway.delete(org_url(org, f"/{cred['id']}"), headers=h)

    assert r.status_code == 204
    for method in ("GET", "PATCH", "DELETE"):
        gone = await platform.gateway.request(method, org_url(org, f"/{cred['id']}"), headers=h,
                                              json={"name": "x"} if method == "PATCH" else None)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "credential_not_found"
    # The service is free again for a new active key.
    await create(platform.gateway, org_url(org), h, service="cartesia", secret=new_secret())


# --- validation against the providers ------------------------------------------------------------


@pytest.mark.parametrize("service", ["daily", "deepgram", "cartesia", "openai"])
async def test_validate_calls_the_provider_with_the_key(
    platform: Platform, token, reset_fakes, service: str  # type: ignore[no-untyped-def]
) -> None:
    fake = reset_fakes[service]
    org = uuid.uuid4()
    h = auth(token(org, "org_admin"))
    label = providers.PROBES[CredentialService(service)].label
    good = await create(platform.gateway, org_url(org), h, service=service, secret=fake.good_key)
    bad_key = new_secret("revoked")
    bad = await create(platform.gateway, org_url(org), h, service=service, secret=bad_key, active=False)

    ok = await platform.gateway.post(org_url(org, f"/{good['id']}/validate"), headers=h)
    refused = await platform.gateway.post(org_url(org, f"/{bad['id']}/validate"), headers=h)

    assert ok.status_code == 200, ok.text
    assert ok.json() | {"checkedAt": None} == {
        "credentialId": good["id"], "service": service, "ok": True, "outcome": "valid", "httpStatus": 200,
        "message": f"{label} accepted the key (GET {fake.path} answered 200).", "checkedAt": None,
    }
    assert refused.json()["ok"] is False and refused.json()["outcome"] == "rejected"
    assert refused.json()["httpStatus"] == 401 and "revoked" in refused.json()["message"]
    assert bad_key not in refused.text and fake.good_key not in ok.text
    # The provider saw the key exactly as it expects it, on the cheap authenticated route.
    (path, headers), (_, bad_headers) = fake.seen
    assert path == fake.path and headers[fake.header.lower()] == fake.prefix + fake.good_key
    assert bad_headers[fake.header.lower()] == fake.prefix + bad_key
    if service == "cartesia":
        assert headers["cartesia-version"] == CARTESIA_VERSION
    # The result is stored on the credential.
    stored = (await platform.gateway.get(org_url(org, f"/{good['id']}"), headers=h)).json()
    assert stored["lastValidationOk"] is True and stored["lastValidatedAt"] == ok.json()["checkedAt"]
    assert stored["lastValidationMessage"] == ok.json()["message"]
    stored_bad = (await platform.gateway.get(org_url(org, f"/{bad['id']}"), headers=h)).json()
    assert stored_bad["lastValidationOk"] is False and "401" in stored_bad["lastValidationMessage"]


@pytest.mark.parametrize(("status", "outcome", "words"), [
    (500, "provider_error", "try again later"), (429, "provider_error", "rate limiting"),
    (403, "rejected", "permissions"), (404, "provider_error", "API URL setting"),
])
async def test_validate_explains_answers_that_are_not_a_yes(
    platform: Platform, token, reset_fakes, status: int, outcome: str, words: str  # type: ignore[no-untyped-def]
) -> None:
    fake = reset_fakes["daily"]
    fake.status = status
    org = uuid.uuid4()
    h = auth(token(org, "org_admin"))
    cred = await create(platform.gateway, org_url(org), h, service="daily", secret=fake.good_key)

    result = (await platform.gateway.post(org_url(org, f"/{cred['id']}/validate"), headers=h)).json()

    assert (result["ok"], result["outcome"], result["httpStatus"]) == (False, outcome, status)
    assert words in result["message"] and fake.good_key not in json.dumps(result)


async def test_platform_credentials_validate_too(platform: Platform, token, reset_fakes) -> None:  # type: ignore[no-untyped-def]
    fake = reset_fakes["openai"]
    async with platform_credential(platform, token, "openai", fake.good_key, active=False) as cred:
        admin = auth(token(None, platform_admin=True))
        r = await platform.gateway.post(f"{ADMIN_PATH}/{cred['id']}/validate", headers=admin)
        assert r.status_code == 200 and r.json()["ok"] is True
        assert (await platform.gateway.get(f"{ADMIN_PATH}/{cred['id']}", headers=admin)).json()["lastValidationOk"]


async def test_an_unreachable_or_slow_provider_is_reported_not_raised(reset_fakes) -> None:  # type: ignore[no-untyped-def]
    key = SecretStr(new_secret())
    closed = SessionSettings(deepgram_api_url="http://127.0.0.1:9", provider_timeout_seconds=1)
    unreachable = await providers.check_key(CredentialService.deepgram, key, closed)
    assert unreachable.outcome == "unreachable" and "127.0.0.1:9" in unreachable.message

    slow = reset_fakes["deepgram"]
    slow.delay = 1.5
    timeout = SessionSettings(deepgram_api_url=slow.url, provider_timeout_seconds=0.3)
    timed_out = await providers.check_key(CredentialService.deepgram, key, timeout)
    assert timed_out.outcome == "unreachable" and "did not answer within 0.3 s" in timed_out.message
    bad_url = await providers.check_key(CredentialService.deepgram, key, SessionSettings(deepgram_api_url="::nonsense"))
    assert bad_url.outcome in ("error", "unreachable") and key.get_secret_value() not in bad_url.message


# --- the internal endpoint and resolution ---------------------------------------------------------


async def test_the_internal_endpoint_serves_service_identities_only(platform: Platform, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    secret = new_secret("daily")
    cred = await create(platform.gateway, org_url(org), auth(token(org, "org_owner")), service="daily",
                        secret=secret, metadata={"domain": "acme.daily.co"})

    r = await platform.svc.get(resolve_url(org, "daily"), headers=auth(token(None, service="bot")))

    assert r.status_code == 200, r.text
    assert r.json() == {"credentialId": cred["id"], "service": "daily", "scope": "org", "secret": secret,
                        "fingerprint": cred["fingerprint"], "metadata": {"domain": "acme.daily.co"}}
    users = {"org_owner": token(org, "org_owner"), "org_user": token(org, "org_user"),
             "platform_admin": token(None, platform_admin=True)}
    for who, user in users.items():
        refused = await platform.svc.get(resolve_url(org, "daily"), headers=auth(user))
        assert refused.status_code == 403, who
        assert refused.json()["error"]["code"] == "service_only" and secret not in refused.text
    assert (await platform.svc.get(resolve_url(org, "daily"))).status_code == 401
    unknown = await platform.svc.get(resolve_url(org, "zoom"), headers=auth(token(None, service="bot")))
    assert unknown.status_code == 422
    # The gateway does not route internal paths at all.
    through_gateway = await platform.gateway.get(resolve_url(org, "daily"), headers=auth(token(None, service="bot")))
    assert through_gateway.status_code == 404 and secret not in through_gateway.text


async def test_resolution_prefers_the_org_then_the_platform_then_names_what_is_missing(
    platform: Platform, token  # type: ignore[no-untyped-def]
) -> None:
    with_own, without = uuid.uuid4(), uuid.uuid4()
    bot = auth(token(None, service="bot"))
    own_secret, platform_secret = new_secret("own"), new_secret("platform")
    await create(platform.gateway, org_url(with_own), auth(token(with_own, "org_admin")),
                 service="deepgram", secret=own_secret)
    # An inactive org key is no key: the platform's is used.
    await create(platform.gateway, org_url(without), auth(token(without, "org_admin")),
                 service="deepgram", secret=new_secret(), active=False)

    missing = await platform.svc.get(resolve_url(without, "deepgram"), headers=bot)
    assert missing.status_code == 409
    error = missing.json()["error"]
    assert error["code"] == "credential_missing" and "Deepgram" in error["message"]
    assert error["details"] == {"service": "deepgram", "orgId": str(without)}

    async with platform_credential(platform, token, "deepgram", platform_secret):
        own = (await platform.svc.get(resolve_url(with_own, "deepgram"), headers=bot)).json()
        fallback = (await platform.svc.get(resolve_url(without, "deepgram"), headers=bot)).json()
        assert (own["scope"], own["secret"]) == ("org", own_secret)
        assert (fallback["scope"], fallback["secret"]) == ("platform", platform_secret)
        # The helper other modules call (the rooms adapter for Daily, for instance).
        assert await resolve_secret(platform.db, with_own, "deepgram", platform.settings) == own_secret
        assert await resolve_secret(platform.db, without, "deepgram", platform.settings) == platform_secret

    with pytest.raises(CredentialMissing, match="Deepgram") as caught:
        await resolve_secret(platform.db, without, "deepgram", platform.settings)
    assert caught.value.code == "credential_missing"


async def test_an_altered_ciphertext_fails_loudly_instead_of_answering_garbage(
    platform: Platform, platform_env, token  # type: ignore[no-untyped-def]
) -> None:
    org = uuid.uuid4()
    h = auth(token(org, "org_admin"))
    cred = await create(platform.gateway, org_url(org), h, service="openai", secret=new_secret())
    owner = make_engine(superuser_url(platform_env), 1)
    try:
        async with owner.begin() as conn:  # a superuser, as an attacker with database access would be
            await conn.execute(text("UPDATE session_svc.voice_credentials SET ciphertext = "
                                    "overlay(ciphertext placing '\\x00'::bytea from 3 for 1) WHERE id = :id"),
                               {"id": cred["id"]})
    finally:
        await owner.dispose()

    resolved = await platform.svc.get(resolve_url(org, "openai"), headers=auth(token(None, service="bot")))
    validated = await platform.gateway.post(org_url(org, f"/{cred['id']}/validate"), headers=h)

    for r in (resolved, validated):
        assert r.status_code == 500 and r.json()["error"]["code"] == "secret_unreadable"
        assert "Re-enter the secret" in r.json()["error"]["message"]
    assert (await platform.gateway.get(org_url(org, f"/{cred['id']}"), headers=h)).status_code == 200


# --- tenant isolation --------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def victim(platform: Platform, token) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin = token(org, "org_admin", sub="victim-admin")
    secret = new_secret("victim")
    cred = await create(platform.gateway, org_url(org), auth(admin), service="daily", secret=secret)
    return {"org": org, "admin": admin, "id": cred["id"], "secret": secret}


def bad_callers(token, base_settings) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    other = uuid.uuid4()
    now = int(time.time())
    claims = {"sub": "mallory", "iss": base_settings.jwt_issuer, "aud": base_settings.jwt_audience,
              "iat": now, "exp": now + 600, "orgs": {}}
    return {
        "member_of_other_org": auth(token(other, "org_user")),
        "admin_of_other_org": auth(token(other, "org_admin")),
        "owner_of_other_org": auth(token(other, "org_owner")),
        "platform_admin_without_membership": auth(token(None, platform_admin=True)),
        "no_token": {},
        "expired_token": auth(token(other, "org_owner", ttl_seconds=-60)),
        "token_signed_with_another_key": auth(jwt.encode(claims, "another-secret-of-32-bytes-or-more!",
                                                         algorithm="HS256")),
    }


async def test_outsiders_get_nothing_and_change_nothing(platform: Platform, token, base_settings, victim) -> None:  # type: ignore[no-untyped-def]
    o, c = victim["org"], victim["id"]
    h = auth(victim["admin"])
    before = (await platform.gateway.get(org_url(o), headers=h)).json()
    endpoints = [("POST", org_url(o), {"service": "deepgram", "name": "mallory's", "secret": new_secret()}),
                 ("GET", org_url(o), None), ("GET", org_url(o, f"/{c}"), None),
                 ("PATCH", org_url(o, f"/{c}"), {"secret": new_secret("mallory"), "active": False}),
                 ("DELETE", org_url(o, f"/{c}"), None), ("POST", org_url(o, f"/{c}/validate"), None)]
    failures = []
    for who, headers in bad_callers(token, base_settings).items():
        for method, path, body in endpoints:
            r = await platform.gateway.request(method, path, json=body, headers=headers)
            expected = 404 if headers and who.endswith(("org", "membership")) else 401
            if r.status_code != expected or c in r.text or victim["secret"] in r.text:
                failures.append(f"{who} {method} {path} -> {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)
    assert (await platform.gateway.get(org_url(o), headers=h)).json() == before
    # Another org's credential id used in one's own org is simply not found.
    other = uuid.uuid4()
    mine = auth(token(other, "org_admin"))
    for method in ("GET", "DELETE"):
        r = await platform.gateway.request(method, org_url(other, f"/{c}"), headers=mine)
        assert r.status_code == 404
    listed = await platform.gateway.get(org_url(other), headers=mine)
    assert listed.json()["total"] == 0 and c not in listed.text


async def test_a_service_resolves_only_the_org_it_names(platform: Platform, token, victim) -> None:  # type: ignore[no-untyped-def]
    bot = auth(token(None, service="bot"))
    other = uuid.uuid4()
    r = await platform.svc.get(resolve_url(other, "daily"), headers=bot)
    assert victim["secret"] not in r.text
    if r.status_code == 200:  # a platform Daily key may exist in this run; never the victim's
        assert r.json()["scope"] == "platform"


async def test_app_role_without_scope_sees_no_credential_rows(platform: Platform, platform_env, token, victim) -> None:  # type: ignore[no-untyped-def]
    async with platform_credential(platform, token, "cartesia", new_secret(), active=False):
        engine = make_engine(platform_env["database_url"], 1)
        try:
            async with engine.connect() as conn:
                count = "select count(*) from session_svc.voice_credentials"
                assert (await conn.execute(text(count))).scalar_one() == 0
                await conn.execute(text("select set_config('app.org_id', :o, false)"), {"o": str(victim["org"])})
                assert (await conn.execute(text(count + " where org_id is null"))).scalar_one() == 0
                orgs = (await conn.execute(text("select distinct org_id from session_svc.voice_credentials"))).all()
                assert orgs == [(victim["org"],)]
                await conn.execute(text("select set_config('app.platform_scope', 'on', false)"))
                assert (await conn.execute(text(count + " where org_id is null"))).scalar_one() >= 1
                await conn.execute(text("select set_config('app.org_id', '', false)"))
                await conn.execute(text("select set_config('app.platform_scope', '', false)"))
        finally:
            await engine.dispose()


# --- unexpected errors -------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["session-svc", "gateway"])
async def test_an_unexpected_error_is_logged_without_the_secrets_in_its_frames(
    platform: Platform, token, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,  # type: ignore[no-untyped-def]
    where: str,
) -> None:
    """An unexpected error is logged with its traceback but without frame locals (they hold secrets)."""
    from gateway.routes import credentials as gateway_routes
    from session_svc.credentials import service

    secret = new_secret("boom")

    async def broken(*args: Any) -> None:
        in_clear = json.dumps([getattr(a, "secret", None) and a.secret.get_secret_value() for a in args])
        raise RuntimeError(f"the database is on fire ({len(in_clear)} characters lost)")

    if where == "gateway":
        monkeypatch.setattr(gateway_routes, "forward", broken)
    else:
        monkeypatch.setattr(service, "create_credential", broken)
    root = request.config.pluginmanager.get_plugin(str(request.config.rootpath / "conftest.py"))

    class Recording(root.SecretWatch):  # type: ignore[misc,name-defined]
        def check(self, where: str, content: str | bytes) -> None:
            self.lines.append(content if isinstance(content, str) else content.decode("utf-8", "replace"))
            super().check(where, content)

    watch = Recording(secret)
    watch.lines = []
    org = uuid.uuid4()
    with pytest.MonkeyPatch.context() as patch:
        watch.install(patch)
        try:
            r = await platform.gateway.post(org_url(org), headers=auth(token(org, "org_admin")),
                                            json={"service": "daily", "name": "x", "secret": secret})
            assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
        except RuntimeError as e:
            # In process, Starlette re-raises after the 500 handler has answered and logged.
            assert "the database is on fire" in str(e)
        finally:
            __import__("logging").getLogger().removeHandler(watch.handler)

    assert not watch.leaks
    logged = [line for line in watch.lines if '"unhandled_error"' in line]
    assert logged and all("RuntimeError" in line and "the database is on fire" in line for line in logged)
