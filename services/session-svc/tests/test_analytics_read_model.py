"""Sessions' analytics as session-svc keeps them, over the real broker and Postgres: analytics.completed
(the highest version wins) and analytics.reviewed (the newest decision) into the read model, the
list of them with its filters, paging and who may see what, and the stats of scores."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from sqlmodel import col, select

from session_svc.analytics.models import SessionAnalytics
from session_svc.settings import SCHEMA
from voice_shared.bus import subscription
from voice_shared.contracts import (
    AnalyticsCompleted,
    AnalyticsReviewed,
    Envelope,
    TranscriptCompleted,
    TranscriptDeleted,
    envelope,
)
from voice_shared.db import transaction
from voice_shared.testing import auth, config_body, session_body

pytestmark = pytest.mark.integration

COMPLETED = subscription("session-svc", "analytics").consumer
REVIEWED = subscription("session-svc", "analytics-reviewed").consumer
DELETED = subscription("session-svc", "transcripts-deleted").consumer
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def completed(org: uuid.UUID, sid: str, score: float, *, version: int = 1, scorer: str = "heuristic",
              at: datetime | None = None) -> Envelope:
    event = AnalyticsCompleted(session_id=uuid.UUID(sid), analytics_id=uuid.uuid4(), analytics_version=version,
                               overall_score=score, scorer=scorer)  # type: ignore[arg-type]
    return envelope(event, org_id=org, session_id=uuid.UUID(sid), occurred_at=at)


def reviewed(org: uuid.UUID, sid: str, decision: str | None, *, at: datetime, reviewer: str = "reviewer-1") -> Envelope:
    event = AnalyticsReviewed(session_id=uuid.UUID(sid), review_id=uuid.uuid4(), analytics_id=uuid.uuid4(),
                              decision=decision, reviewer=reviewer)  # type: ignore[arg-type]
    return envelope(event, org_id=org, session_id=uuid.UUID(sid), occurred_at=at)


async def deliver(publish, handled, consumer: str, *events: Envelope) -> None:  # type: ignore[no-untyped-def]
    """Each event over the broker, in turn, each committed before the next is sent."""
    for env in events:
        await publish(env)
        await handled(SCHEMA, consumer, env.event_id)


async def make_config(client, org, headers) -> str:  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def make_session(client, org, headers, config_id: str, **overrides: Any) -> str:  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/voice/sessions?orgId={org}", json=session_body(config_id, **overrides),
                          headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def listed(client, org, headers, query: str = "") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = await client.get(f"/api/voice/analytics?orgId={org}{query}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def ids(client, org, headers, query: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    page = await listed(client, org, headers, query)
    assert page["total"] == len(page["items"]), page  # one snapshot: the page and its total agree
    return [i["sessionId"] for i in page["items"]]


def at(t: datetime) -> str:
    return quote(t.isoformat())


async def test_the_highest_version_wins_in_any_order_and_a_redelivery_changes_nothing(  # type: ignore[no-untyped-def]
    session_svc, token, publish, handled
) -> None:
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    cid = await make_config(session_svc, org, admin)
    sid, other = await make_session(session_svc, org, admin, cid), await make_session(session_svc, org, admin, cid)

    v2 = completed(org, sid, 80, version=2, scorer="llm", at=hours(1))
    v1 = completed(org, sid, 40, version=1, at=hours(2))  # arrives later and was stamped later: still older
    await deliver(publish, handled, COMPLETED, v2, v1)
    (item,) = (await listed(session_svc, org, admin))["items"]
    assert (item["analyticsId"], item["analyticsVersion"], item["overallScore"], item["scorer"]) == (
        v2.payload["analytics_id"], 2, 80, "llm")
    assert datetime.fromisoformat(item["scoredAt"]) == hours(1)
    assert (item["decision"], item["reviewedAt"], item["configId"], item["configVersion"]) == (None, None, cid, 1)
    assert (item["sessionStatus"], item["access"], item["candidateName"]) == ("pending", "manage", "Grace Hopper")

    v3 = completed(org, sid, 55, version=3, at=hours(3))
    await deliver(publish, handled, COMPLETED, v3)
    assert (await listed(session_svc, org, admin))["items"][0]["analyticsVersion"] == 3

    # The same event again (its id is in the inbox) is skipped, whatever it now carries; the event
    # after it on the same queue is taken in once the replay has been settled.
    replay = v3.model_copy(update={"payload": {**v3.payload, "analytics_version": 9, "overall_score": 1}})
    after = completed(org, other, 10)
    await publish(replay)
    await deliver(publish, handled, COMPLETED, after)
    by_id = {i["sessionId"]: i for i in (await listed(session_svc, org, admin))["items"]}
    assert (by_id[sid]["analyticsVersion"], by_id[sid]["overallScore"]) == (3, 55)

    # The transcript's deletion takes what was scored from it along.
    gone = envelope(TranscriptDeleted(session_id=uuid.UUID(sid), reason="deleted"), org_id=org,
                    session_id=uuid.UUID(sid))
    await deliver(publish, handled, DELETED, gone)
    assert await ids(session_svc, org, admin) == [other]


async def test_the_newest_decision_is_kept_and_a_review_without_one_leaves_it(  # type: ignore[no-untyped-def]
    session_svc, session_svc_app, token, publish, handled
) -> None:
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    cid = await make_config(session_svc, org, admin)
    sid, early, undecided = [await make_session(session_svc, org, admin, cid) for _ in range(3)]
    await deliver(publish, handled, COMPLETED, completed(org, sid, 70, at=hours(0)),
                  completed(org, undecided, 50, at=hours(0)))

    async def item(session_id: str) -> dict[str, Any]:
        return next(i for i in (await listed(session_svc, org, admin))["items"] if i["sessionId"] == session_id)

    async def seen(session_id: str) -> tuple[str | None, datetime | None]:
        got = await item(session_id)
        return got["decision"], datetime.fromisoformat(got["reviewedAt"]) if got["reviewedAt"] else None

    await deliver(publish, handled, REVIEWED, reviewed(org, sid, "hold", at=hours(1), reviewer="alice"))
    assert await seen(sid) == ("hold", hours(1))
    await deliver(publish, handled, REVIEWED, reviewed(org, sid, None, at=hours(2), reviewer="bob"))
    assert await seen(sid) == ("hold", hours(2))  # scores only: the decision stands
    advance = reviewed(org, sid, "advance", at=hours(4), reviewer="carol")
    await deliver(publish, handled, REVIEWED, advance)
    assert await seen(sid) == ("advance", hours(4))
    await deliver(publish, handled, REVIEWED, reviewed(org, sid, "reject", at=hours(3), reviewer="dave"))
    assert await seen(sid) == ("advance", hours(4))  # an older review delivered late changes nothing
    replay = advance.model_copy(update={"payload": {**advance.payload, "decision": "reject"}})
    await publish(replay)
    await deliver(publish, handled, REVIEWED, reviewed(org, undecided, None, at=hours(1)))
    assert await seen(sid) == ("advance", hours(4))  # the inbox skipped the replay
    assert await seen(undecided) == (None, hours(1))  # reviewed, no decision yet

    await deliver(publish, handled, COMPLETED, completed(org, sid, 90, version=2, at=hours(5)))
    assert (await item(sid))["decision"] == "advance"  # a rescoring keeps the reviewers' decision

    # A review taken in before its analytics: not listed until they arrive, then with its decision.
    await deliver(publish, handled, REVIEWED, reviewed(org, early, "reject", at=hours(1), reviewer="erin"))
    assert early not in await ids(session_svc, org, admin)
    await deliver(publish, handled, COMPLETED, completed(org, early, 30, at=hours(2)))
    assert await seen(early) == ("reject", hours(1))

    async with transaction(session_svc_app.state.sessions, org) as tx:
        row = (await tx.execute(select(SessionAnalytics).where(col(SessionAnalytics.session_id) == uuid.UUID(sid)))
               ).scalar_one()
    assert (row.decision, row.decided_at, row.reviewer, row.reviewed_at) == ("advance", hours(4), "carol", hours(4))


async def test_the_list_filters_pages_and_sorts_newest_scored_first(  # type: ignore[no-untyped-def]
    session_svc, token, publish, handled
) -> None:
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    config_a, config_b = await make_config(session_svc, org, admin), await make_config(session_svc, org, admin)
    plan = [  # name, config, score, scorer, decision (absent: never reviewed), scored at
        ("Ada Lovelace", config_a, 15, "heuristic", ..., hours(1)),
        ("Alan Turing", config_a, 45, "llm", "advance", hours(2)),
        ("Grace Hopper", config_a, 75, "heuristic", "hold", hours(3)),
        ("Alan Kay", config_b, 100, "llm", "reject", hours(4)),
        ("Barbara Liskov", config_b, 60, "heuristic", None, hours(5)),
    ]
    made = []
    for name, config, score, scorer, decision, when in plan:
        sid = await make_session(session_svc, org, admin, config, candidateName=name,
                                 candidateEmail=f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.com")
        await deliver(publish, handled, COMPLETED, completed(org, sid, score, scorer=scorer, at=when))
        if decision is not ...:
            await deliver(publish, handled, REVIEWED, reviewed(org, sid, decision, at=when + timedelta(minutes=5)))
        made.append(sid)
    ada, turing, grace, kay, liskov = made
    await make_session(session_svc, org, admin, config_a)  # never scored: not listed
    deleted = await make_session(session_svc, org, admin, config_a)
    await deliver(publish, handled, COMPLETED, completed(org, deleted, 50, at=hours(6)))
    assert (await session_svc.delete(f"/api/voice/sessions/{deleted}?orgId={org}", headers=admin)).status_code == 204
    r = await session_svc.post(f"/api/voice/sessions/{kay}/cancel?orgId={org}", headers=admin)
    assert r.status_code == 200, r.text

    everything = await listed(session_svc, org, admin)
    assert [i["sessionId"] for i in everything["items"]] == [liskov, kay, grace, turing, ada]
    assert everything["total"] == 5 and everything["nextCursor"] is None
    assert {i["sessionId"]: i["sessionStatus"] for i in everything["items"]}[kay] == "cancelled"

    email = next(i["candidateEmail"] for i in everything["items"] if i["sessionId"] == grace)
    expected = {
        "&scoreMin=45&scoreMax=75": [liskov, grace, turing],  # both ends included
        "&scoreMin=100": [kay],
        "&scoreMax=15": [ada],
        "&scoreMin=0&scoreMax=100": [liskov, kay, grace, turing, ada],
        "&decision=advance": [turing],
        "&decision=hold": [grace],
        "&decision=reject": [kay],
        "&decision=none": [liskov, ada],  # reviewed without a decision, and never reviewed
        f"&configId={config_a}": [grace, turing, ada],
        f"&configId={config_b}&decision=none": [liskov],
        "&scorer=llm": [kay, turing],
        f"&createdFrom={at(hours(2))}&createdTo={at(hours(4))}": [grace, turing],  # from included, to not
        f"&createdFrom={at(hours(4))}": [liskov, kay],
        "&candidate=alan": [kay, turing],
        f"&candidate={email.split('@')[0].upper()}": [grace],
        "&candidate=nobody": [],
    }
    for query, wanted in expected.items():
        assert await ids(session_svc, org, admin, query) == wanted, query

    seen, cursor, pages = [], "", 0
    while True:
        page = await listed(session_svc, org, admin, f"&limit=2{cursor}")
        assert page["total"] == 5
        seen += [i["sessionId"] for i in page["items"]]
        pages += 1
        if not page["nextCursor"]:
            break
        cursor = f"&cursor={page['nextCursor']}"
    assert (seen, pages) == ([liskov, kay, grace, turing, ada], 3)
    page = await listed(session_svc, org, admin, f"&limit=1&configId={config_b}")
    rest = await listed(session_svc, org, admin, f"&limit=1&configId={config_b}&cursor={page['nextCursor']}")
    assert [i["sessionId"] for i in page["items"] + rest["items"]] == [liskov, kay] and rest["nextCursor"] is None


async def test_only_callers_with_view_analytics_access_see_a_session_and_no_other_org_does(  # type: ignore[no-untyped-def]
    session_svc, token, publish, handled
) -> None:
    org, other = uuid.uuid4(), uuid.uuid4()
    creator = auth(token(org, "org_user", sub="recruiter-1"))
    config = await make_config(session_svc, org, auth(token(org, "org_admin")))
    sid = await make_session(session_svc, org, creator, config)
    for user, level in (("viewer", "view"), ("reader", "view_transcript"), ("analyst", "view_analytics")):
        r = await session_svc.post(f"/api/voice/sessions/{sid}/shares?orgId={org}", headers=creator,
                                   json={"userId": user, "level": level})
        assert r.status_code == 201, r.text
    await deliver(publish, handled, COMPLETED, completed(org, sid, 64))

    expected = {"recruiter-1": "manage", "analyst": "view_analytics", "viewer": None, "reader": None,
                "stranger": None}
    for who, access in expected.items():
        page = await listed(session_svc, org, auth(token(org, "org_user", sub=who)))
        assert [i["access"] for i in page["items"]] == ([access] if access else []), who
        assert page["total"] == int(access is not None), who
    assert [i["access"] for i in (await listed(session_svc, org, auth(token(org, "org_admin"))))["items"]] == [
        "manage"]

    # Another org: its own scored session is not in this org's list, nor this one in its list; an
    # event that names this org's session under the other org shows in neither.
    outsider = auth(token(other, "org_owner"))
    theirs = await make_session(session_svc, other, outsider, await make_config(session_svc, other, outsider))
    unscored = await make_session(session_svc, org, creator, config)
    await deliver(publish, handled, COMPLETED, completed(other, theirs, 99), completed(other, unscored, 12))
    assert await ids(session_svc, other, outsider) == [theirs]
    assert await ids(session_svc, org, auth(token(org, "org_admin"))) == [sid]
    for caller in (outsider, auth(token(None, platform_admin=True))):
        r = await session_svc.get(f"/api/voice/analytics?orgId={org}", headers=caller)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    assert (await session_svc.get(f"/api/voice/analytics?orgId={org}")).status_code == 401


async def test_bad_filters_get_a_clear_error(session_svc, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    r = await session_svc.get(f"/api/voice/analytics?orgId={org}&scoreMin=80&scoreMax=20", headers=admin)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_score_range")
    assert r.json()["error"]["message"] == "scoreMin (80) must not be greater than scoreMax (20)."
    assert r.json()["error"]["details"][0]["loc"] == ["query", "scoreMin"]
    cases = ["&createdFrom=2026-01-01T00:00:00", "&createdTo=yesterday", "&scoreMin=101", "&scoreMax=-1",
             "&scoreMin=high", "&decision=maybe", "&scorer=gpt", "&configId=nope", "&limit=0", "&limit=201",
             f"&candidate={'x' * 201}"]
    for query in cases:
        r = await session_svc.get(f"/api/voice/analytics?orgId={org}{query}", headers=admin)
        assert r.status_code == 422 and r.json()["error"]["message"], (query, r.text)
    r = await session_svc.get(f"/api/voice/analytics?orgId={org}&createdFrom=2026-01-01T00:00:00", headers=admin)
    assert "createdFrom" in r.json()["error"]["message"]
    r = await session_svc.get(f"/api/voice/analytics?orgId={org}&cursor=garbage", headers=admin)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_cursor")
    assert (await session_svc.get("/api/voice/analytics", headers=admin)).status_code == 422  # no orgId


async def test_stats_give_each_configs_average_distribution_and_decisions(  # type: ignore[no-untyped-def]
    session_svc, token, publish, handled
) -> None:
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    config_a, config_b = await make_config(session_svc, org, admin), await make_config(session_svc, org, admin)
    scores_a = [(0, "advance"), (19.9, None), (20, "reject"), (50, None), (80, None), (100, None)]
    for score, decision in scores_a:
        sid = await make_session(session_svc, org, admin, config_a)
        await deliver(publish, handled, COMPLETED, completed(org, sid, score))
        if decision:
            await deliver(publish, handled, REVIEWED, reviewed(org, sid, decision, at=hours(1)))
    member = "member-1"
    b = await make_session(session_svc, org, admin, config_b, assigneeId=member)
    await deliver(publish, handled, COMPLETED, completed(org, b, 30, version=1), completed(org, b, 40, version=2))
    await deliver(publish, handled, REVIEWED, reviewed(org, b, "hold", at=hours(1)))
    viewed = await make_session(session_svc, org, admin, config_b)  # the member may only view this one
    r = await session_svc.post(f"/api/voice/sessions/{viewed}/shares?orgId={org}", headers=admin,
                               json={"userId": member, "level": "view"})
    assert r.status_code == 201, r.text
    await deliver(publish, handled, COMPLETED, completed(org, viewed, 90))
    await make_session(session_svc, org, admin, config_a)  # not scored

    stats = (await session_svc.get(f"/api/voice/stats?orgId={org}", headers=admin)).json()
    assert stats["total"] == 9
    by_config = {c["configId"]: c for c in stats["byConfig"]}
    assert set(by_config) == {config_a, config_b}
    a = by_config[config_a]
    assert a["scored"] == 6 and a["averageScore"] == pytest.approx(269.9 / 6)
    assert a["scoreDistribution"] == {"0-20": 2, "20-40": 1, "40-60": 1, "60-80": 0, "80-100": 2}
    assert a["decisions"] == {"advance": 1, "hold": 0, "reject": 1, "none": 4}
    assert by_config[config_b]["scoreDistribution"] == {"0-20": 0, "20-40": 0, "40-60": 1, "60-80": 0, "80-100": 1}
    assert by_config[config_b]["averageScore"] == pytest.approx(65)  # the current version (40), and 90
    assert stats["averageScore"] == pytest.approx((269.9 + 40 + 90) / 8)

    # The member sees both sessions, but the scores only of the one whose analytics they may see.
    mine = (await session_svc.get(f"/api/voice/stats?orgId={org}", headers=auth(token(org, sub=member)))).json()
    assert mine["total"] == 2 and mine["averageScore"] == pytest.approx(40)
    assert mine["byConfig"] == [{
        "configId": config_b, "scored": 1, "averageScore": 40.0,
        "scoreDistribution": {"0-20": 0, "20-40": 0, "40-60": 1, "60-80": 0, "80-100": 0},
        "decisions": {"advance": 0, "hold": 1, "reject": 0, "none": 0},
    }]
    fresh = uuid.uuid4()
    empty = (await session_svc.get(f"/api/voice/stats?orgId={fresh}", headers=auth(token(fresh, "org_admin")))).json()
    assert (empty["averageScore"], empty["byConfig"]) == (None, [])


async def test_the_transcripts_list_counts_as_scored_only_sessions_with_analytics(  # type: ignore[no-untyped-def]
    session_svc, token, publish, handled
) -> None:
    """hasAnalytics of /api/voice/transcripts: a session whose row holds a review only is not scored."""
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    cid = await make_config(session_svc, org, admin)
    scored, review_only, plain = [await make_session(session_svc, org, admin, cid) for _ in range(3)]
    finals = [envelope(TranscriptCompleted(
        session_id=uuid.UUID(sid), transcript_id=uuid.uuid4(), revision=1, finalised_at=hours(n),
        session_status="cancelled", segment_count=1, word_count=1, candidate_word_count=0, duration_ms=1000,
        object_keys={},
    ), org_id=org, session_id=uuid.UUID(sid)) for n, sid in enumerate((scored, review_only, plain))]
    await deliver(publish, handled, subscription("session-svc", "transcripts").consumer, *finals)
    await deliver(publish, handled, COMPLETED, completed(org, scored, 50))
    await deliver(publish, handled, REVIEWED, reviewed(org, review_only, "hold", at=hours(1)))

    async def transcripts(query: str) -> list[str]:
        r = await session_svc.get(f"/api/voice/transcripts?orgId={org}{query}", headers=admin)
        assert r.status_code == 200, r.text
        return [i["sessionId"] for i in r.json()["items"]]

    assert await transcripts("&hasAnalytics=true") == [scored]
    assert await transcripts("&hasAnalytics=false") == [plain, review_only]


async def test_sessions_show_what_analytics_said_to_callers_with_view_analytics_only(  # type: ignore[no-untyped-def]
    session_svc, token, publish, handled
) -> None:
    """GET /sessions/{id}, the sessions list and PATCH carry each session's score and decision (one
    joined read): to those whose access includes 'view_analytics'; null to the others, and for a session
    neither scored nor reviewed."""
    org, other = uuid.uuid4(), uuid.uuid4()
    admin, creator = auth(token(org, "org_admin")), auth(token(org, "org_user", sub="recruiter-1"))
    config = await make_config(session_svc, org, admin)
    scored, review_only, never = [await make_session(session_svc, org, creator, config) for _ in range(3)]
    for user, level in (("viewer", "view"), ("reader", "view_transcript"), ("analyst", "view_analytics")):
        r = await session_svc.post(f"/api/voice/sessions/{scored}/shares?orgId={org}", headers=creator,
                                   json={"userId": user, "level": level})
        assert r.status_code == 201, r.text
    await deliver(publish, handled, COMPLETED, completed(org, scored, 40, at=hours(1)),
                  completed(org, scored, 72.5, version=2, scorer="llm", at=hours(2)))
    await deliver(publish, handled, REVIEWED, reviewed(org, scored, "advance", at=hours(3)),
                  reviewed(org, scored, None, at=hours(4)),  # a later review without a decision
                  reviewed(org, review_only, "hold", at=hours(1)))
    # Another org's event naming this org's session is in the other org's rows, not on this session.
    await deliver(publish, handled, COMPLETED, completed(other, never, 99))

    said = {"overallScore": 72.5, "scorer": "llm", "analyticsVersion": 2, "scoredAt": hours(2),
            "decision": "advance", "decidedAt": hours(3)}
    held = {"overallScore": None, "scorer": None, "analyticsVersion": None, "scoredAt": None,
            "decision": "hold", "decidedAt": hours(1)}  # reviewed before its analytics arrived

    def score(session: dict[str, Any]) -> dict[str, Any] | None:
        got = session["analytics"]
        return got and {k: datetime.fromisoformat(v) if k.endswith("At") and v else v for k, v in got.items()}

    async def read(sid: str, headers: dict[str, str]) -> dict[str, Any]:
        r = await session_svc.get(f"/api/voice/sessions/{sid}?orgId={org}", headers=headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def in_list(headers: dict[str, str], query: str = "") -> dict[str, dict[str, Any]]:
        r = await session_svc.get(f"/api/voice/sessions?orgId={org}{query}", headers=headers)
        assert r.status_code == 200, r.text
        if "limit=" not in query:
            assert r.json()["total"] == len(r.json()["items"])  # one row per session: the join adds none
        return {s["id"]: s for s in r.json()["items"]}

    for who, headers in (("admin", admin), ("creator", creator), ("analyst", auth(token(org, sub="analyst")))):
        listed_ = await in_list(headers)
        assert score(await read(scored, headers)) == said, who
        assert score(listed_[scored]) == said, who
        if who != "analyst":  # the analyst has the one session shared
            assert score(await read(review_only, headers)) == held, who
            assert (await read(never, headers))["analytics"] is None, who
            assert (score(listed_[review_only]), listed_[never]["analytics"]) == (held, None), who
    for who in ("viewer", "reader"):
        headers = auth(token(org, sub=who))
        got = await read(scored, headers)
        assert (got["access"], got["analytics"]) == ({"viewer": "view", "reader": "view_transcript"}[who], None)
        assert [(s["id"], s["analytics"]) for s in (await in_list(headers)).values()] == [(scored, None)], who

    # The list's filters and paging are as they were.
    first = await session_svc.get(f"/api/voice/sessions?orgId={org}&limit=2", headers=admin)
    assert [s["id"] for s in first.json()["items"]] == [never, review_only] and first.json()["total"] == 3
    rest = await in_list(admin, f"&limit=2&cursor={first.json()['nextCursor']}")
    assert list(rest) == [scored] and score(rest[scored]) == said
    assert list(await in_list(admin, f"&candidate=nobody&configId={config}")) == []

    # A manager's PATCH answers with it too; the transcript's deletion takes it away.
    r = await session_svc.patch(f"/api/voice/sessions/{scored}?orgId={org}", headers=creator,
                                json={"metadata": {"team": "core"}})
    assert r.status_code == 200 and score(r.json()) == said, r.text
    gone = envelope(TranscriptDeleted(session_id=uuid.UUID(scored), reason="deleted"), org_id=org,
                    session_id=uuid.UUID(scored))
    await deliver(publish, handled, DELETED, gone)
    assert (await read(scored, admin))["analytics"] is None
