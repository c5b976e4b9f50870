"""A candidate's erasure across services, on the real broker and Postgres: a receipt with counts, no
row anywhere that still holds their email, name or words, no archived object left, and nothing
that arrives later brings them back."""

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from transcript_svc.settings import SCHEMA as TRANSCRIPTS
from voice_shared.bus import subscription
from voice_shared.db import make_engine
from voice_shared.objects import LocalObjectStore
from voice_shared.testing import auth, config_body, session_body

pytestmark = pytest.mark.integration

SEGMENTS = subscription("transcript-svc", "segments").consumer


async def rows_holding(platform_env: dict[str, str], *needles: str) -> dict[str, int]:
    """Every table of session-svc and transcript-svc (outboxes included) whose rows contain a needle,
    read as the superuser (Row Level Security does not hide anything from it)."""
    url = make_url(platform_env["database_url"]).set(username="postgres")
    engine = make_engine(url.render_as_string(hide_password=False), pool_size=1)
    found: dict[str, int] = {}
    async with engine.connect() as conn:
        tables = (await conn.execute(text(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema IN ('session_svc', 'transcript_svc') AND table_type = 'BASE TABLE'"))).scalars()
        for table in list(tables):
            for needle in needles:
                n = (await conn.execute(text(f"SELECT count(*) FROM {table} t WHERE t::text ILIKE :n"),
                                        {"n": f"%{needle}%"})).scalar_one()
                if n:
                    found[f"{table} ~ {needle}"] = n
    await engine.dispose()
    return found


async def test_a_candidates_erasure_leaves_nothing_of_them(  # type: ignore[no-untyped-def]
    gateway, token, publish, segment_event, handled, event_log, platform_env
) -> None:
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin", sub="dpo"))
    tag = uuid.uuid4().hex[:8]
    email, name, words = f"ada.{tag}@example.com", f"Ada Lovelace-{tag}", f"my secret {tag}"
    config = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()

    async def session(candidate_email: str, candidate_name: str = name, ref: str = f"ref-{tag}") -> str:
        body = session_body(config["id"], candidateEmail=candidate_email, candidateName=candidate_name,
                            metadata={"ats": ref})
        r = await gateway.post(f"/api/voice/sessions?orgId={org}", json=body, headers=admin)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    finished, running, deleted = await session(email), await session(email.upper()), await session(email)
    someone_else = await session(f"grace.{tag}@example.com", "Grace", "grace-ref")
    said = [segment_event(org, uuid.UUID(sid), 0, speaker="candidate", text=words) for sid in (finished, running)]
    for env in said:
        await publish(env)
    await handled(TRANSCRIPTS, SEGMENTS, *(e.event_id for e in said))
    assert (await gateway.post(f"/api/voice/sessions/{finished}/cancel?orgId={org}", headers=admin)).status_code == 200
    (completed,) = await event_log.wait_for(finished, "transcript.completed")
    assert (await gateway.delete(f"/api/voice/sessions/{deleted}?orgId={org}", headers=admin)).status_code == 204
    await event_log.wait_for(deleted, "transcript.completed")  # deleting it cancelled it: an empty transcript
    assert await rows_holding(platform_env, email, words)  # the search finds them while they are there

    member = auth(token(org, "org_user"))
    r = await gateway.delete(f"/api/voice/candidates?orgId={org}&email={email}", headers=member)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "admin_required")
    outsider = auth(token(uuid.uuid4(), "org_owner"))
    r = await gateway.delete(f"/api/voice/candidates?orgId={org}&email={email}", headers=outsider)
    assert r.status_code == 404
    for bad in ("", "not-an-email", "a@b"):
        r = await gateway.delete(f"/api/voice/candidates?orgId={org}&email={bad}", headers=admin)
        assert r.status_code == 422, bad

    r = await gateway.delete(f"/api/voice/candidates?orgId={org}&email={email.title()}", headers=admin)
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert (receipt["requestedBy"], receipt["sessionCount"]) == ("dpo", 3)
    assert receipt["removed"] == {
        "session-svc": {"sessionsCleared": 3, "sessionsCancelled": 1},
        "transcript-svc": {"transcripts": 2, "segments": 2, "objectVersions": 6},
    }
    for _ in range(200):  # an org event: no session id to wait on
        if erased := [e for e in event_log.events
                      if e["type"] == "candidate.erased" and e["payload"]["erasure_id"] == receipt["id"]]:
            break
        await asyncio.sleep(0.05)
    assert len(erased) == 1
    assert sorted(erased[0]["payload"]["session_ids"]) == sorted([finished, running, deleted])

    # A segment still on its way for the cancelled session, and its end, bring nothing back.
    late = segment_event(org, uuid.UUID(running), 1, speaker="candidate", text=words)
    await publish(late)
    await handled(TRANSCRIPTS, SEGMENTS, late.event_id)
    assert await rows_holding(platform_env, email, name, words, f"ref-{tag}") == {}
    store = LocalObjectStore(platform_env["object_store_dir"])
    assert [await store.versions(k) for k in completed["payload"]["object_keys"].values()] == [0, 0, 0]
    # The other candidate keeps everything.
    other = (await gateway.get(f"/api/voice/sessions/{someone_else}?orgId={org}", headers=admin)).json()
    assert other["candidateName"] == "Grace" and other["metadata"] == {"ats": "grace-ref"}
    after = (await gateway.get(f"/api/voice/sessions/{finished}?orgId={org}", headers=admin)).json()
    assert (after["candidateName"], after["metadata"]) == ("Erased candidate", {})
    assert after["candidateEmail"].endswith("@erased.invalid")
