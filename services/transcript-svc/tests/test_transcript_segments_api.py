"""transcript-svc's segments endpoint: service identities, or users session-svc lets read the
transcript; tenant-scoped, strict about ids."""

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from transcript_svc.settings import SCHEMA
from voice_shared.db import transaction
from voice_shared.testing import auth

INSERT = text(
    f"INSERT INTO {SCHEMA}.transcript_segments (org_id, session_id, sequence, speaker, text, start_ms, end_ms, "
    "final, event_id) VALUES (:org, :sid, :seq, 'bot', 'Hello.', 0, 900, true, :event)"
)


async def store(app, org: uuid.UUID, sid: uuid.UUID, *sequences: int) -> None:  # type: ignore[no-untyped-def]
    """Rows written directly, in the org's transaction (the bus tests cover the consumer)."""
    async with transaction(app.state.sessions, org) as tx:
        for seq in sequences:
            await tx.execute(INSERT, {"org": org, "sid": sid, "seq": seq, "event": uuid.uuid4()})


async def test_a_session_without_segments_starts_at_zero(transcript_svc, token) -> None:  # type: ignore[no-untyped-def]
    sid = uuid.uuid4()
    answer = await transcript_svc.get(f"/internal/sessions/{sid}/segments?orgId={uuid.uuid4()}",
                                      headers=auth(token(service="bot")))
    assert answer.status_code == 200
    assert answer.json() == {"sessionId": str(sid), "segments": [], "nextSequence": 0}


async def test_a_session_of_another_org_has_no_segments(  # type: ignore[no-untyped-def]
    transcript_svc, transcript_svc_app, token
) -> None:
    org, other, sid = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await store(transcript_svc_app, org, sid, 0, 1)
    bot = auth(token(service="bot"))

    mine = await transcript_svc.get(f"/internal/sessions/{sid}/segments?orgId={org}", headers=bot)
    theirs = await transcript_svc.get(f"/internal/sessions/{sid}/segments?orgId={other}", headers=bot)

    assert [s["sequence"] for s in mine.json()["segments"]] == [0, 1] and mine.json()["nextSequence"] == 2
    assert theirs.status_code == 200
    assert theirs.json() == {"sessionId": str(sid), "segments": [], "nextSequence": 0}


@pytest.mark.parametrize("role", ["org_user", "org_admin", "org_owner"])
async def test_users_get_nothing_of_a_session_session_svc_does_not_show_them(  # type: ignore[no-untyped-def]
    transcript_svc, transcript_svc_app, token, role: str
) -> None:
    org, sid = uuid.uuid4(), uuid.uuid4()
    await store(transcript_svc_app, org, sid, 0)  # segments of a session session-svc does not know

    answer = await transcript_svc.get(f"/internal/sessions/{sid}/segments?orgId={org}", headers=auth(token(org, role)))

    assert answer.status_code == 404
    assert "Hello." not in answer.text


async def test_no_token_or_a_bad_one_is_unauthorised(transcript_svc, token) -> None:  # type: ignore[no-untyped-def]
    url = f"/internal/sessions/{uuid.uuid4()}/segments?orgId={uuid.uuid4()}"
    missing = await transcript_svc.get(url)
    forged = await transcript_svc.get(url, headers=auth(token(service="bot") + "x"))
    expired = await transcript_svc.get(url, headers=auth(token(service="bot", ttl_seconds=-60)))

    assert [(r.status_code, r.json()["error"]["code"]) for r in (missing, forged, expired)] == [
        (401, "missing_token"), (401, "invalid_token"), (401, "token_expired")]


@pytest.mark.parametrize("path", [
    "/internal/sessions/not-a-uuid/segments?orgId={org}",
    "/internal/sessions/{sid}/segments?orgId=not-a-uuid",
    "/internal/sessions/{sid}/segments",
    "/internal/sessions/{sid}/segments?orgId=",
    "/internal/sessions/{sid}%00/segments?orgId={org}",
    "/internal/sessions/{sid}/segments?orgId={org}%00",
    "/internal/sessions/{sid}/segments?orgId=" + "f" * 5000,
])
async def test_malformed_ids_are_422_in_the_error_shape(transcript_svc, token, path: str) -> None:  # type: ignore[no-untyped-def]
    url = path.format(org=uuid.uuid4(), sid=uuid.uuid4())

    answer = await transcript_svc.get(url, headers=auth(token(service="bot")))

    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["message"] and isinstance(error["details"], list)


async def test_segments_are_a_tenant_table_with_forced_row_level_security(transcript_svc_app) -> None:  # type: ignore[no-untyped-def]
    db = transcript_svc_app.state.sessions
    async with transaction(db) as tx:
        owner, enabled, forced = (await tx.execute(text(
            "SELECT pg_get_userbyid(relowner), relrowsecurity, relforcerowsecurity FROM pg_class "
            f"WHERE oid = '{SCHEMA}.transcript_segments'::regclass"
        ))).one()
        app_role = (await tx.execute(text("SELECT current_user"))).scalar_one()
        # Without the tenant setting the application role sees no row at all.
        visible = (await tx.execute(text(f"SELECT count(*) FROM {SCHEMA}.transcript_segments"))).scalar_one()
    assert (enabled, forced) == (True, True)
    assert owner != app_role
    assert visible == 0
    # Nor can it write a row of an org other than its transaction's.
    with pytest.raises(DBAPIError, match="row-level security"):
        async with transaction(db, uuid.uuid4()) as tx:
            await tx.execute(INSERT, {"org": uuid.uuid4(), "sid": uuid.uuid4(), "seq": 0, "event": uuid.uuid4()})
