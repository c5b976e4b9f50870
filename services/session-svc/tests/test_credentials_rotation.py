"""`voice rotate-kek` against real Postgres: every org's and the platform's rows are re-wrapped
under Row Level Security, old rows keep opening while it runs, and unreadable rows are reported.

Rotation is global to the run's database, so the test rotates to a new key and back again.
"""

import asyncio
import base64
import os
import re
import uuid
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url

from session_svc.credentials import repository as repo
from session_svc.credentials import service
from session_svc.credentials.bootstrap import secret_stores
from session_svc.credentials.local import Keyring, LocalEnvelopeStore, kek_id
from session_svc.credentials.ports import SecretStores, SecretUnreadable
from session_svc.credentials.repository import PLATFORM, Scope
from session_svc.credentials.resolve import open_secret, resolve_credential
from session_svc.credentials.rotation import rotate_kek
from session_svc.models import VoiceCredential
from session_svc.settings import DEV_KEK, SessionSettings
from voice_cli.main import main
from voice_shared.api.credentials import CredentialCreate
from voice_shared.auth import Principal, Role
from voice_shared.db import make_engine, make_sessionmaker

NEW_KEK = base64.b64encode(os.urandom(32)).decode()
LOST_KEK = base64.b64encode(os.urandom(32)).decode()


def body(service_: str, secret: str, active: bool = True) -> CredentialCreate:
    return CredentialCreate(service=service_, name="rotation", secret=SecretStr(secret), active=active)  # type: ignore[arg-type]


def superuser_url(env: dict[str, str]) -> str:
    """The run's database as the server's superuser (VOICE_TEST_PG), which Row Level Security spares."""
    server = make_url(os.environ.get("VOICE_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"))
    return server.set(database=make_url(env["database_url"]).database).render_as_string(hide_password=False)


async def kek_ids(engine: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Read as a superuser: this test looks at every row regardless of scope."""
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, kek_id FROM session_svc.voice_credentials WHERE id = ANY(:ids)"),
                                  {"ids": ids})
        return {r[0]: r[1] for r in rows}


async def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, kek: str, previous: str, *args: str) -> int:
    monkeypatch.setenv("VOICE_DATABASE_URL", database_url)
    monkeypatch.setenv("VOICE_KEK", kek)
    monkeypatch.setenv("VOICE_PREVIOUS_KEKS", previous)
    return await asyncio.to_thread(main, ["rotate-kek", *args])


async def test_rotate_kek_rewraps_every_scope_without_downtime(
    platform_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(platform_env["database_url"], 2)
    superuser = make_engine(superuser_url(platform_env), 1)
    db = make_sessionmaker(engine)
    dev = SessionSettings(**platform_env)  # type: ignore[arg-type]
    during = SessionSettings(**platform_env, kek=NEW_KEK, previous_keks=DEV_KEK)  # type: ignore[arg-type]
    orgs = [uuid.uuid4(), uuid.uuid4()]
    admin = Principal(sub="rotator", orgs={o: Role.org_admin for o in orgs}, platform_admin=True)
    secrets = {}
    created: list[tuple[Scope, uuid.UUID]] = []
    lost_org = uuid.uuid4()
    lost_admin = Principal(sub="rotator", orgs={lost_org: Role.org_admin})
    lost = None
    try:
        for scope, svc in ((Scope(orgs[0]), "daily"), (Scope(orgs[0]), "openai"), (Scope(orgs[1]), "daily"),
                           (PLATFORM, "cartesia")):
            secret = f"rot-{uuid.uuid4().hex}"
            cred = await service.create_credential(db, secret_stores(dev), admin, scope,
                                                   body(svc, secret, active=scope is not PLATFORM))
            secrets[cred.id] = secret
            created.append((scope, cred.id))
        ids = list(secrets)
        # A row under a key nobody configures any more: reported, never fatal to the others.
        lost_stores = SecretStores(LocalEnvelopeStore(Keyring(base64.b64decode(LOST_KEK))))
        lost = await service.create_credential(db, lost_stores, lost_admin, Scope(lost_org),
                                               body("deepgram", "lost-" + uuid.uuid4().hex))
        assert set((await kek_ids(superuser, ids)).values()) == {kek_id(base64.b64decode(DEV_KEK))}

        # Part way through: one batch of one row; old and new rows both open with both keys known.
        partial = await rotate_kek(db, LocalEnvelopeStore(Keyring.from_settings(during)),
                                   batch_size=1, max_batches=1)
        assert partial.batches == 1 and partial.rewrapped + partial.failed == 1
        for scope, cid in created:
            row = await _row(db, scope, cid)
            assert (await open_secret(secret_stores(during), row)).get_secret_value() == secrets[cid]

        status = await cli(monkeypatch, platform_env["database_url"], NEW_KEK, DEV_KEK, "--batch-size", "2")

        out, err = capsys.readouterr()
        new_id = kek_id(base64.b64decode(NEW_KEK))
        assert status == 1 and str(lost.id) in err and "VOICE_PREVIOUS_KEKS" in err
        assert f"re-wrapping data keys under KEK {new_id}" in out and "batch 1:" in out
        assert re.search(r"done: \d+ re-wrapped, \d+ already current, [1-9]\d* failed", out)
        assert NEW_KEK not in out + err and DEV_KEK not in out + err
        assert set((await kek_ids(superuser, ids)).values()) == {new_id}
        after = SessionSettings(**platform_env, kek=NEW_KEK)  # type: ignore[arg-type]
        for scope, cid in created:
            row = await _row(db, scope, cid)
            assert (await open_secret(secret_stores(after), row)).get_secret_value() == secrets[cid]
            with pytest.raises(SecretUnreadable):  # the old key alone no longer opens them
                await open_secret(secret_stores(dev), row)
        resolved = await resolve_credential(db, orgs[1], "daily", after)
        assert resolved.secret.get_secret_value() == secrets[created[2][1]]
    finally:
        if lost is not None:
            await service.delete_credential(db, SecretStores(LocalEnvelopeStore(Keyring(os.urandom(32)))),
                                            lost_admin, Scope(lost_org), lost.id)
        # Back to the development key, which every other test's app uses.
        back = await cli(monkeypatch, platform_env["database_url"], DEV_KEK, NEW_KEK)
        capsys.readouterr()
        for scope, cid in created:
            await service.delete_credential(db, secret_stores(dev), admin, scope, cid)
        await engine.dispose()
        await superuser.dispose()
    assert back == 0


async def _row(db: Any, scope: Scope, credential_id: uuid.UUID) -> VoiceCredential:
    async with repo.scoped(db, scope) as tx:
        return await repo.get_row(tx, scope, credential_id)


async def test_the_rewrap_listing_gives_the_app_role_ids_only(platform_env: dict[str, str]) -> None:
    engine = make_engine(platform_env["database_url"], 1)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(
                "SELECT * FROM session_svc.credentials_to_rewrap('', '00000000-0000-0000-0000-000000000000', 5)"))
            assert list(result.keys()) == ["org_id", "credential_id"]
    finally:
        await engine.dispose()
