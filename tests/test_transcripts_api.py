"""Final transcripts through the gateway, end to end on the real broker and Postgres: an interview's
segments, its end through session-svc, the list, the transcript, its exports and its deletion, and
who may see what."""

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from transcript_svc.settings import SCHEMA as TRANSCRIPT_SCHEMA
from voice_shared.api.transcripts import TranscriptPublic
from voice_shared.bus import subscription
from voice_shared.contracts import envelope
from voice_shared.db import transaction
from voice_shared.objects import LocalObjectStore
from voice_shared.testing import auth, config_body, session_body

pytestmark = pytest.mark.integration

SEGMENTS = subscription("transcript-svc", "segments").consumer
LINES = [
    ("bot", "Hello Grace, I'm Ada. Shall we begin?", 0, 2500, None, None, "greeting"),
    ("candidate", "Yes, let's begin.", 3000, 4200, None, None, "answer"),
    ("bot", "Tell me about a system you scaled.", 4800, 7000, "scale", 0, "question"),
    ("candidate", "We sharded the ledger & load tested it first.", 7600, 12000, "scale", 0, "answer"),
]


async def interview(gateway, token, publish, segment_event, handled, event_log, org,  # type: ignore[no-untyped-def]
                    **session: Any) -> dict[str, Any]:
    """A session whose bot said LINES, then cancelled through the API: its transcript is final."""
    admin = auth(token(org, "org_admin"))
    config = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
    body = session_body(config["id"], **session)
    created = (await gateway.post(f"/api/voice/sessions?orgId={org}", json=body, headers=admin)).json()
    sid = uuid.UUID(created["id"])
    events = [segment_event(org, sid, n, speaker=s, text=t, start_ms=a, end_ms=b, question_id=q,
                            follow_up_index=f, kind=k) for n, (s, t, a, b, q, f, k) in enumerate(LINES)]
    for env in events:
        await publish(env)
    await handled(TRANSCRIPT_SCHEMA, SEGMENTS, *(e.event_id for e in events))
    r = await gateway.post(f"/api/voice/sessions/{sid}/cancel?orgId={org}", headers=admin)
    assert r.status_code == 200, r.text
    (completed,) = await event_log.wait_for(sid, "transcript.completed")
    return {**created, "transcriptId": completed["payload"]["transcript_id"], "objectKeys":
            completed["payload"]["object_keys"]}


async def listed(gateway, org, headers, query: str = "", count: int | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The list, once session-svc has taken in ``count`` transcripts matching ``query``."""
    for _ in range(200):
        r = await gateway.get(f"/api/voice/transcripts?orgId={org}{query}", headers=headers)
        assert r.status_code == 200, r.text
        if count is not None and r.json()["total"] == count:
            assert len(r.json()["items"]) == count  # one snapshot: the page and its total agree
        if count is None or r.json()["total"] == count:
            return r.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"the list never held {count}: {r.json()}")


async def test_an_interviews_transcript_is_listed_read_and_exported(  # type: ignore[no-untyped-def]
    gateway, token, publish, segment_event, handled, event_log
) -> None:
    org = uuid.uuid4()
    s = await interview(gateway, token, publish, segment_event, handled, event_log, org, candidateName="Grace Hopper")
    admin = auth(token(org, "org_admin"))

    page = await listed(gateway, org, admin, count=1)
    (item,) = page["items"]
    assert item["id"] == s["transcriptId"] and item["sessionId"] == s["id"]
    assert (item["revision"], item["sessionStatus"], item["segmentCount"]) == (1, "cancelled", 4)
    assert (item["candidateName"], item["configId"], item["access"]) == ("Grace Hopper", s["configId"], "manage")
    assert item["wordCount"] == sum(len(line[1].split()) for line in LINES)

    r = await gateway.get(f"/api/voice/transcripts/{s['transcriptId']}?orgId={org}", headers=admin)
    assert r.status_code == 200, r.text
    t = TranscriptPublic.model_validate(r.json())
    assert t.text is None and t.end_reason == "cancelled_by_user" and t.duration_ms == 12000
    assert [(x.role, x.text, x.question_id, x.follow_up_index) for x in t.segments] == [
        ("interviewer" if who == "bot" else "candidate", text, q, f) for who, text, _, _, q, f, _ in LINES]
    assert t.speakers["candidate"].words == 4 + 8 and t.speakers["candidate"].talk_ms == 1200 + 4400
    with_text = (await gateway.get(f"/api/voice/transcripts/{t.id}?orgId={org}&includeText=true", headers=admin)).json()
    assert with_text["text"].splitlines()[3] == "Candidate: We sharded the ledger & load tested it first."

    for fmt, media in (("json", "application/json"), ("txt", "text/plain"), ("vtt", "text/vtt")):
        r = await gateway.get(f"/api/voice/transcripts/{t.id}/export?orgId={org}&format={fmt}", headers=admin)
        assert r.status_code == 200 and r.headers["content-type"].startswith(media), (fmt, r.text)
        assert r.headers["content-disposition"] == f'attachment; filename="transcript-{s["id"]}.{fmt}"'
        # The download is what the archive holds.
        store = LocalObjectStore(gateway_objects(gateway))
        assert r.content == await store.get(s["objectKeys"][fmt]), fmt
    vtt = (await gateway.get(f"/api/voice/transcripts/{t.id}/export?orgId={org}&format=vtt", headers=admin)).text
    assert "00:00:07.600 --> 00:00:12.000\n<v Candidate>We sharded the ledger &amp; load tested it first." in vtt


def gateway_objects(gateway) -> str:  # type: ignore[no-untyped-def]
    return str(gateway._transport.app.state.settings.object_store_dir)


async def test_list_filters_total_and_cursor(  # type: ignore[no-untyped-def]
    gateway, token, publish, segment_event, handled, event_log
) -> None:
    org = uuid.uuid4()
    a = await interview(gateway, token, publish, segment_event, handled, event_log, org, candidateName="Ada Lovelace")
    b = await interview(gateway, token, publish, segment_event, handled, event_log, org, candidateName="Alan Turing")
    c = await interview(gateway, token, publish, segment_event, handled, event_log, org, candidateName="Alan Kay")
    admin = auth(token(org, "org_admin"))
    everything = await listed(gateway, org, admin, count=3)
    assert [i["sessionId"] for i in everything["items"]] == [c["id"], b["id"], a["id"]]  # newest first

    alans = await listed(gateway, org, admin, "&candidate=alan")
    assert alans["total"] == 2 and {i["sessionId"] for i in alans["items"]} == {b["id"], c["id"]}
    assert (await listed(gateway, org, admin, f"&sessionId={a['id']}"))["items"][0]["id"] == a["transcriptId"]
    assert (await listed(gateway, org, admin, f"&configId={b['configId']}"))["total"] == 1
    first = everything["items"][0]["createdAt"].replace("+", "%2B")
    assert (await listed(gateway, org, admin, f"&createdTo={first}"))["total"] == 2
    assert (await listed(gateway, org, admin, f"&createdFrom={first}"))["total"] == 1

    page1 = await listed(gateway, org, admin, "&limit=2")
    page2 = await listed(gateway, org, admin, f"&limit=2&cursor={page1['nextCursor']}")
    assert [i["sessionId"] for i in page1["items"] + page2["items"]] == [c["id"], b["id"], a["id"]]
    assert page1["total"] == page2["total"] == 3 and page2["nextCursor"] is None

    # analytics-svc scores each of them (the candidate spoke), and the list knows which are scored.
    assert (await listed(gateway, org, admin, "&hasAnalytics=true", count=3))["total"] == 3
    assert (await listed(gateway, org, admin, "&hasAnalytics=false"))["total"] == 0

    r = await gateway.get(f"/api/voice/transcripts?orgId={org}&createdFrom=2026-01-01T00:00:00", headers=admin)
    assert r.status_code == 422  # no timezone
    r = await gateway.get(f"/api/voice/transcripts?orgId={org}&cursor=garbage", headers=admin)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_cursor")


async def test_who_may_read_a_transcript(gateway, token, publish, segment_event, handled, event_log) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    creator = token(org, "org_user", sub="recruiter-1")
    config = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(),
                                 headers=auth(token(org, "org_admin")))).json()
    created = (await gateway.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]),
                                  headers=auth(creator))).json()
    sid = uuid.UUID(created["id"])
    env = segment_event(org, sid, 0, text="Hello.")
    await publish(env)
    await handled(TRANSCRIPT_SCHEMA, SEGMENTS, env.event_id)
    cancelled = await gateway.post(f"/api/voice/sessions/{sid}/cancel?orgId={org}", headers=auth(creator))
    assert cancelled.status_code == 200
    (completed,) = await event_log.wait_for(sid, "transcript.completed")
    tid = completed["payload"]["transcript_id"]
    for user, level in (("viewer", "view"), ("reader", "view_transcript"), ("analyst", "view_analytics")):
        r = await gateway.post(f"/api/voice/sessions/{sid}/shares?orgId={org}", headers=auth(creator),
                               json={"userId": user, "level": level})
        assert r.status_code == 201, r.text
    await listed(gateway, org, auth(creator), count=1)

    def caller(sub: str) -> dict[str, str]:
        return auth(token(org, "org_user", sub=sub))

    expected = {  # who: (status of the transcript, listed?)
        "recruiter-1": (200, True), "reader": (200, True), "analyst": (200, True),
        "viewer": (403, False), "stranger": (404, False),
    }
    for who, (status, in_list) in expected.items():
        r = await gateway.get(f"/api/voice/transcripts/{tid}?orgId={org}", headers=caller(who))
        assert r.status_code == status, (who, r.text)
        r = await gateway.get(f"/api/voice/transcripts/{tid}/export?orgId={org}&format=txt", headers=caller(who))
        assert r.status_code == status, (who, r.text)
        page = (await gateway.get(f"/api/voice/transcripts?orgId={org}", headers=caller(who))).json()
        assert ([i["id"] for i in page["items"]] == [tid]) == in_list and page["total"] == int(in_list), who
    r = await gateway.get(f"/api/voice/transcripts/{tid}?orgId={org}", headers=caller("viewer"))
    assert r.json()["error"]["code"] == "insufficient_access"
    assert (await gateway.get(f"/api/voice/transcripts/{tid}?orgId={org}", headers=auth(token(org, "org_admin")))
            ).status_code == 200

    other = uuid.uuid4()
    for outsider in (auth(token(other, "org_owner")), auth(token(None, platform_admin=True))):
        for path in (f"/api/voice/transcripts/{tid}?orgId={org}", f"/api/voice/transcripts/{tid}?orgId={other}",
                     f"/api/voice/transcripts/{tid}/export?orgId={org}"):
            r = await gateway.get(path, headers=outsider)
            assert r.status_code == 404, (path, r.text)
        r = await gateway.delete(f"/api/voice/transcripts/{tid}?orgId={org}", headers=outsider)
        assert r.status_code == 404
    assert (await gateway.get(f"/api/voice/transcripts/{tid}?orgId={org}")).status_code == 401
    assert (await gateway.get(f"/api/voice/transcripts?orgId={other}", headers=auth(token(other, "org_owner")))
            ).json()["total"] == 0


async def test_bad_input_gets_a_clear_error(gateway, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    cases = [
        (f"/api/voice/transcripts/{uuid.uuid4()}/export?orgId={org}&format=pdf", 422),
        (f"/api/voice/transcripts/not-a-uuid?orgId={org}", 422),
        (f"/api/voice/transcripts/{uuid.uuid4()}?orgId={org}&includeText=perhaps", 422),
        (f"/api/voice/transcripts/{uuid.uuid4()}", 422),
        (f"/api/voice/transcripts/{uuid.uuid4()}?orgId={org}", 404),
    ]
    for path, status in cases:
        r = await gateway.get(path, headers=admin)
        assert r.status_code == status and r.json()["error"]["message"], (path, r.text)
    r = await gateway.get(f"/api/voice/transcripts/{uuid.uuid4()}?orgId={org}", headers=admin)
    assert r.json()["error"]["code"] == "transcript_not_found"


async def test_an_admin_deletes_a_transcript_and_everything_of_it(  # type: ignore[no-untyped-def]
    gateway, token, publish, segment_event, handled, event_log, transcript_svc_app
) -> None:
    org = uuid.uuid4()
    s = await interview(gateway, token, publish, segment_event, handled, event_log, org)
    tid, admin = s["transcriptId"], auth(token(org, "org_admin"))
    await listed(gateway, org, admin, count=1)
    member = auth(token(org, "org_user"))
    r = await gateway.delete(f"/api/voice/transcripts/{tid}?orgId={org}", headers=member)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "admin_required")

    r = await gateway.delete(f"/api/voice/transcripts/{tid}?orgId={org}", headers=admin)
    assert r.status_code == 204, r.text
    (deleted,) = await event_log.wait_for(s["id"], "transcript.deleted")
    assert deleted["payload"] == {"session_id": s["id"], "transcript_id": tid, "reason": "deleted"}
    assert (await gateway.get(f"/api/voice/transcripts/{tid}?orgId={org}", headers=admin)).status_code == 404
    assert (await gateway.delete(f"/api/voice/transcripts/{tid}?orgId={org}", headers=admin)).status_code == 404
    await listed(gateway, org, admin, count=0)
    store = LocalObjectStore(gateway_objects(gateway))
    assert await store.versions(f"transcripts/{org}/") == 0
    async with transaction(transcript_svc_app.state.sessions, org) as tx:
        left = [(await tx.execute(text(f"SELECT count(*) FROM {TRANSCRIPT_SCHEMA}.{table} WHERE session_id = :s"),
                                  {"s": s["id"]})).scalar_one() for table in ("transcript_segments", "transcripts")]
    assert left == [0, 0]


async def test_an_orgs_retention_is_set_by_its_admins_and_told_to_candidates(  # type: ignore[no-untyped-def]
    gateway, token, handled, base_settings
) -> None:
    from voice_shared.join import JoinTokens

    org = uuid.uuid4()
    admin, member = auth(token(org, "org_admin")), auth(token(org, "org_user"))
    r = await gateway.get(f"/api/voice/settings?orgId={org}", headers=member)
    assert r.json() == {"retentionDays": base_settings.data_retention_days, "isDefault": True,
                        "maxConcurrentInterviews": 20, "maxConcurrentInterviewsIsDefault": True,
                        "updatedBy": None, "updatedAt": None}
    r = await gateway.put(f"/api/voice/settings?orgId={org}", headers=member, json={"retentionDays": 30})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "admin_required")
    for bad in ({"retentionDays": 0}, {"retentionDays": 99999}, {"retentionDays": "soon"}, {}, {"retention": 3}):
        r = await gateway.put(f"/api/voice/settings?orgId={org}", headers=admin, json=bad)
        assert r.status_code == 422 and r.json()["error"]["message"], bad
    r = await gateway.put(f"/api/voice/settings?orgId={org}", headers=admin, json={"retentionDays": 30})
    assert r.status_code == 200 and r.json()["retentionDays"] == 30 and not r.json()["isDefault"]
    assert (await gateway.get(f"/api/voice/settings?orgId={org}", headers=member)).json()["retentionDays"] == 30
    outsider = auth(token(uuid.uuid4(), "org_owner"))
    assert (await gateway.get(f"/api/voice/settings?orgId={org}", headers=outsider)).status_code == 404

    # The candidate's page says what the org chose.
    config = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
    session = (await gateway.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]),
                                  headers=admin)).json()
    from datetime import UTC, datetime

    from voice_shared.settings import ServiceSettings
    join, _ = JoinTokens(ServiceSettings(**base_settings.model_dump())).mint(uuid.UUID(session["id"]), org,
                                                                            datetime.now(UTC))
    page = await gateway.get(f"/join/{join}")
    assert page.status_code == 200 and "kept for 30 days" in page.text


async def test_a_recording_is_downloaded_through_an_expiring_link_and_deleted_with_its_record(  # type: ignore[no-untyped-def]
    gateway, token, publish, segment_event, handled, event_log, platform_env, base_settings
) -> None:
    from datetime import UTC, datetime
    from urllib.parse import urlsplit

    from voice_shared.contracts import RecordingCompleted
    from voice_shared.objects import object_key, recording_parts_prefix

    org = uuid.uuid4()
    s = await interview(gateway, token, publish, segment_event, handled, event_log, org)
    admin, sid = auth(token(org, "org_admin")), uuid.UUID(s["id"])
    url = f"/api/voice/transcripts/{s['transcriptId']}/recording?orgId={org}"
    r = await gateway.get(url, headers=admin)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "recording_not_found")

    store = LocalObjectStore(gateway_objects(gateway))
    key = object_key("", "recordings", org, datetime.now(UTC), sid, "ogg")
    await store.put(key, b"OggS pretend opus", "audio/ogg")
    await store.put(recording_parts_prefix("", org, sid) + "0000020000.ogg", b"OggS a part left", "audio/ogg")
    done = envelope(RecordingCompleted(session_id=sid, object_key=key, duration_ms=12000), org_id=org, session_id=sid)
    await publish(done)
    await handled(TRANSCRIPT_SCHEMA, subscription("transcript-svc", "recordings").consumer, done.event_id)

    link = (await gateway.get(url, headers=admin)).json()
    assert (link["durationMs"], link["contentType"], link["channels"]) == (
        12000, "audio/ogg", "candidate_left_interviewer_right")
    path = urlsplit(link["url"]).path
    assert link["url"].startswith(base_settings.public_url) and path.startswith("/api/voice/recordings/")
    got = await gateway.get(path)  # no bearer: the link is the credential
    assert (got.status_code, got.content, got.headers["content-type"]) == (200, b"OggS pretend opus", "audio/ogg")
    for forged in (path + "x", path.replace("/recordings/", "/recordings/a"), "/api/voice/recordings/nonsense"):
        r = await gateway.get(forged)
        assert r.status_code == 404 and r.json()["error"]["code"] in ("download_link_invalid", "not_found"), forged
    viewer_share = await gateway.post(f"/api/voice/sessions/{sid}/shares?orgId={org}", headers=admin,
                                      json={"userId": "glancer", "level": "view"})
    assert viewer_share.status_code == 201
    r = await gateway.get(url, headers=auth(token(org, "org_user", sub="glancer")))
    assert r.status_code == 403

    assert (await gateway.delete(f"/api/voice/transcripts/{s['transcriptId']}?orgId={org}", headers=admin)
            ).status_code == 204
    assert await store.keys(f"recordings/{org}/") == []
    assert (await gateway.get(path)).status_code == 404  # the link outlives nothing
    # A recording that arrives for a removed session is deleted on arrival.
    await store.put(key, b"OggS late", "audio/ogg")
    late = envelope(RecordingCompleted(session_id=sid, object_key=key, duration_ms=1), org_id=org, session_id=sid)
    await publish(late)
    await handled(TRANSCRIPT_SCHEMA, subscription("transcript-svc", "recordings").consumer, late.event_id)
    assert await store.keys(f"recordings/{org}/") == []
