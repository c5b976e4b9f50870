"""session-svc's API against real Postgres and RabbitMQ: configs, sessions, shares, stats."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from voice_shared.testing import auth, config_body, session_body


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


async def make_config(client, org, headers, **overrides):  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/voice/configs?orgId={org}", json=config_body(**overrides), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def make_session(client, org, headers, config_id, **overrides):  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/voice/sessions?orgId={org}", json=session_body(config_id, **overrides),
                          headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


# --- configs ---------------------------------------------------------------------------------


async def test_config_lifecycle(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    h = auth(token(org, "org_admin"))
    config = await make_config(session_svc, org, h)
    assert config["version"] == 1 and config["questions"][0]["followUp"]["maxFollowUps"] == 1
    cid = config["id"]

    r = await session_svc.patch(f"/api/voice/configs/{cid}?orgId={org}", json={"greeting": "Hi there"}, headers=h)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["greeting"] == "Hi there"
    same = await session_svc.patch(f"/api/voice/configs/{cid}?orgId={org}", json={"greeting": "Hi there"}, headers=h)
    assert same.json()["version"] == 2  # no change, no new version
    v1 = (await session_svc.get(f"/api/voice/configs/{cid}/versions/1?orgId={org}", headers=h)).json()
    assert v1["definition"]["greeting"] == config_body()["greeting"]

    session = await make_session(session_svc, org, h, cid)
    assert session["configVersion"] == 2
    r = await session_svc.delete(f"/api/voice/configs/{cid}?orgId={org}", headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "config_in_use"
    assert "deactivate" in r.json()["error"]["message"]

    await session_svc.patch(f"/api/voice/configs/{cid}?orgId={org}", json={"active": False}, headers=h)
    r = await session_svc.post(f"/api/voice/sessions?orgId={org}", json=session_body(cid), headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "config_inactive"

    unused = await make_config(session_svc, org, h)
    assert (await session_svc.delete(f"/api/voice/configs/{unused['id']}?orgId={org}", headers=h)).status_code == 204
    assert (await session_svc.get(f"/api/voice/configs/{unused['id']}?orgId={org}", headers=h)).status_code == 404


async def test_config_names_unique_per_org(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    h = auth(token(org, "org_owner"))
    await make_config(session_svc, org, h, name="Same")
    r = await session_svc.post(f"/api/voice/configs?orgId={org}", json=config_body(name="Same"), headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "config_name_taken"
    other = uuid.uuid4()
    await make_config(session_svc, other, auth(token(other, "org_admin")), name="Same")


async def test_config_writes_need_admin_reads_need_member(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    admin, member = auth(token(org, "org_admin")), auth(token(org, "org_user"))
    config = await make_config(session_svc, org, admin)
    r = await session_svc.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=member)
    assert r.status_code == 403
    assert (await session_svc.get(f"/api/voice/configs/{config['id']}?orgId={org}", headers=member)).status_code == 200
    page = (await session_svc.get(f"/api/voice/configs?orgId={org}&active=true", headers=member)).json()
    assert [c["id"] for c in page["items"]] == [config["id"]] and page["total"] == 1


async def test_invalid_config_is_422_with_the_field(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    body = config_body()
    body["questions"][0]["timeLimitSeconds"] = 1
    r = await session_svc.post(f"/api/voice/configs?orgId={org}", json=body, headers=auth(token(org, "org_admin")))
    assert r.status_code == 422
    assert "timeLimitSeconds" in r.json()["error"]["message"]


# --- sessions --------------------------------------------------------------------------------


async def test_session_crud_and_lifecycle(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_admin"))
    config = await make_config(session_svc, org, admin)
    user = token(org, "org_user", sub="alice")
    s = await make_session(session_svc, org, auth(user), config["id"], metadata={"req": "R-1"})
    assert s["status"] == "pending" and s["createdBy"] == "alice" and s["access"] == "manage"
    sid, q = s["id"], f"?orgId={org}"

    r = await session_svc.patch(f"/api/voice/sessions/{sid}{q}", headers=auth(user),
                                json={"candidateName": "Ada L.", "assigneeId": "bob", "metadata": {"req": "R-2"}})
    assert r.status_code == 200 and r.json()["candidateName"] == "Ada L." and r.json()["metadata"] == {"req": "R-2"}

    r = await session_svc.post(f"/api/voice/sessions/{sid}/end{q}", headers=auth(user))
    assert r.status_code == 409
    assert r.json()["error"]["details"]["allowed"] == ["cancelled", "failed", "ready"]

    r = await session_svc.post(f"/api/voice/sessions/{sid}/start{q}", headers=auth(token(org, sub="bob")))
    assert r.status_code == 200 and r.json()["status"] == "ready" and r.json()["readyAt"]

    r = await session_svc.post(f"/api/voice/sessions/{sid}/start{q}", headers=auth(user))
    assert r.status_code == 409 and "ready" in r.json()["error"]["message"]

    r = await session_svc.post(f"/api/voice/sessions/{sid}/cancel{q}", json={"reason": "no show"}, headers=auth(user))
    assert r.json()["status"] == "cancelled" and r.json()["statusReason"] == "no show"
    r = await session_svc.post(f"/api/voice/sessions/{sid}/cancel{q}", headers=auth(user))
    assert r.status_code == 409 and "final" in r.json()["error"]["message"]

    assert (await session_svc.delete(f"/api/voice/sessions/{sid}{q}", headers=auth(user))).status_code == 204
    assert (await session_svc.get(f"/api/voice/sessions/{sid}{q}", headers=admin)).status_code == 404
    listed = (await session_svc.get(f"/api/voice/sessions{q}", headers=admin)).json()
    assert sid not in [i["id"] for i in listed["items"]]


async def test_deleting_a_running_session_cancels_it(session_svc, token, org, event_log) -> None:  # type: ignore[no-untyped-def]
    h = auth(token(org, "org_admin"))
    s = await make_session(session_svc, org, h, (await make_config(session_svc, org, h))["id"])
    await session_svc.post(f"/api/voice/sessions/{s['id']}/start?orgId={org}", headers=h)
    await session_svc.delete(f"/api/voice/sessions/{s['id']}?orgId={org}", headers=h)
    ended = await event_log.wait_for(s["id"], "session.ended")
    assert ended[0]["payload"]["status"] == "cancelled" and ended[0]["payload"]["reason"] == "deleted"


async def test_visibility_rules(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    ws = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    config = await make_config(session_svc, org, admin)
    creator = auth(token(org, sub="carol"))
    private = await make_session(session_svc, org, creator, config["id"])
    team = await make_session(session_svc, org, creator, config["id"], workspaceId=str(ws), sharedWithWorkspace=True)
    shared = await make_session(session_svc, org, creator, config["id"])
    await session_svc.post(f"/api/voice/sessions/{shared['id']}/shares?orgId={org}", headers=creator,
                           json={"userId": "dave", "level": "view_transcript"})

    def ids(r):  # type: ignore[no-untyped-def]
        return {i["id"] for i in r.json()["items"]}

    q = f"/api/voice/sessions?orgId={org}"
    assert ids(await session_svc.get(q, headers=admin)) >= {private["id"], team["id"], shared["id"]}
    assert ids(await session_svc.get(q, headers=creator)) == {private["id"], team["id"], shared["id"]}
    dave = auth(token(org, sub="dave"))
    assert ids(await session_svc.get(q, headers=dave)) == {shared["id"]}
    r = await session_svc.get(f"/api/voice/sessions/{shared['id']}?orgId={org}", headers=dave)
    assert r.json()["access"] == "view_transcript"
    r = await session_svc.post(f"/api/voice/sessions/{shared['id']}/start?orgId={org}", headers=dave)
    assert r.status_code == 403
    member_ws = auth(token(org, sub="erin", workspaces=[ws]))
    assert ids(await session_svc.get(q, headers=member_ws)) == {team["id"]}
    stranger = auth(token(org, sub="frank"))
    assert ids(await session_svc.get(q, headers=stranger)) == set()
    r = await session_svc.get(f"/api/voice/sessions/{private['id']}?orgId={org}", headers=stranger)
    assert r.status_code == 404
    assert (await session_svc.get(q, headers=stranger)).json()["total"] == 0


async def test_shares_crud(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    h = auth(token(org, "org_admin"))
    s = await make_session(session_svc, org, h, (await make_config(session_svc, org, h))["id"])
    base = f"/api/voice/sessions/{s['id']}/shares?orgId={org}"
    share = (await session_svc.post(base, json={"userId": "gus", "level": "view"}, headers=h)).json()
    again = await session_svc.post(base, json={"userId": "gus", "level": "view_analytics"}, headers=h)
    assert again.status_code == 409
    assert [x["userId"] for x in (await session_svc.get(base, headers=h)).json()] == ["gus"]
    r = await session_svc.delete(f"/api/voice/sessions/{s['id']}/shares/{share['id']}?orgId={org}", headers=h)
    assert r.status_code == 204
    assert (await session_svc.get(base, headers=h)).json() == []
    r = await session_svc.post(base, json={"userId": "gus", "level": "owner"}, headers=h)
    assert r.status_code == 422


async def test_list_filters_and_pagination(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    h = auth(token(org, "org_admin"))
    c1, c2 = (await make_config(session_svc, org, h))["id"], (await make_config(session_svc, org, h))["id"]
    made = [await make_session(session_svc, org, h, c1 if i % 2 else c2, interviewType="sales" if i < 3 else "tech",
                               candidateName=f"Cand {i}") for i in range(7)]
    await session_svc.post(f"/api/voice/sessions/{made[0]['id']}/start?orgId={org}", headers=h)
    q = f"/api/voice/sessions?orgId={org}"

    async def get(params: str):  # type: ignore[no-untyped-def]
        r = await session_svc.get(q + params, headers=h)
        assert r.status_code == 200, r.text
        return r.json()

    assert (await get("&status=ready"))["total"] == 1
    assert (await get(f"&configId={c1}"))["total"] == 3
    assert (await get("&interviewType=sales"))["total"] == 3
    assert [i["candidateName"] for i in (await get("&candidate=cand%205"))["items"]] == ["Cand 5"]
    assert (await get("&candidate=%25"))["total"] == 0  # a literal %, not a wildcard
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+", "%2B")
    assert (await get(f"&createdFrom={future}"))["total"] == 0
    assert (await get(f"&createdTo={future}"))["total"] == 7

    seen, cursor = [], ""
    while True:
        page = await get(f"&limit=3{cursor}")
        assert page["total"] == 7
        seen += [i["id"] for i in page["items"]]
        if not page["nextCursor"]:
            break
        cursor = f"&cursor={page['nextCursor']}"
    assert seen == [m["id"] for m in reversed(made)]
    r = await session_svc.get(q + "&cursor=not-a-cursor", headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"


async def test_stats(session_svc, token, org, event_log) -> None:  # type: ignore[no-untyped-def]
    h = auth(token(org, "org_admin"))
    cid = (await make_config(session_svc, org, h))["id"]
    for _ in range(3):
        await make_session(session_svc, org, h, cid)
    s = await make_session(session_svc, org, h, cid)
    await session_svc.post(f"/api/voice/sessions/{s['id']}/start?orgId={org}", headers=h)
    stats = (await session_svc.get(f"/api/voice/stats?orgId={org}", headers=h)).json()
    assert stats["total"] == 4
    assert stats["byStatus"]["pending"] == 3 and stats["byStatus"]["ready"] == 1
    assert stats["byStatus"]["completed"] == 0 and stats["averageDurationSeconds"] is None
    assert stats["averageScore"] is None
