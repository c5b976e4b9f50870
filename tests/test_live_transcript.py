"""The live transcript over a real WebSocket through served gateways, fed by the real broker: who may
watch, snapshot then ordered segments, resume without gap or duplicate, the close at the session's
end, two gateway processes."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.app import create_app
from gateway.live import LiveHub, Viewer
from gateway.settings import GatewaySettings
from voice_shared.join import JoinTokens
from voice_shared.settings import ServiceSettings
from voice_shared.testing import auth, config_body, serving, session_body

pytestmark = pytest.mark.integration

Served = Callable[[], AbstractAsyncContextManager[str]]


@pytest.fixture(scope="module")
def served_gateway(platform_env, session_svc_app, transcript_svc_app) -> Served:  # type: ignore[no-untyped-def]
    """``async with served_gateway() as url``: a gateway process of its own (lifespan, own queues) on
    a real port, relaying to the in-process services."""

    @asynccontextmanager
    async def run() -> AsyncIterator[str]:
        upstreams = {name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
                     for name, app in (("session-svc", session_svc_app), ("transcript-svc", transcript_svc_app))}
        settings = GatewaySettings(**platform_env, live_auth_timeout_seconds=1.0, live_ping_seconds=1.0,  # type: ignore[arg-type]
                                   live_end_grace_seconds=0.2)
        app = create_app(settings, upstreams=upstreams)  # type: ignore[arg-type]
        async with app.router.lifespan_context(app), serving(app) as url:
            yield url.replace("http://", "ws://")
        for client in upstreams.values():
            await client.aclose()

    return run


@pytest.fixture(scope="module")
async def gw(served_gateway: Served) -> AsyncIterator[str]:
    async with served_gateway() as url:
        yield url


async def new_session(gateway, token, org: UUID, creator: str | None = None) -> tuple[UUID, dict[str, str]]:  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_admin"))
    owner = auth(token(org, "org_user", sub=creator)) if creator else admin
    config = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
    session = (await gateway.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]),
                                  headers=owner)).json()
    return UUID(session["id"]), owner


def live_url(base: str, sid: UUID, org: UUID, after: int | None = None) -> str:
    return f"{base}/api/voice/sessions/{sid}/live?orgId={org}" + (f"&after={after}" if after is not None else "")


async def watch(base: str, sid: UUID, org: UUID, token: str, after: int | None = None,
                via: str = "protocol") -> ClientConnection:
    """A connected viewer, authenticated in the Sec-WebSocket-Protocol header or the first message."""
    if via == "protocol":
        ws = await connect(live_url(base, sid, org, after), subprotocols=["voice-live.v1", f"bearer.{token}"])  # type: ignore[list-item]
        assert ws.subprotocol == "voice-live.v1"
        return ws
    ws = await connect(live_url(base, sid, org, after))
    await ws.send(json.dumps({"type": "auth", "token": token}))
    return ws


async def receive(ws: ClientConnection, until: Callable[[dict[str, Any]], bool], timeout: float = 10.0,  # noqa: ASYNC109
                  ) -> list[dict[str, Any]]:
    """Messages (pings left out) up to and including the first for which ``until`` holds."""
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "ping":
                continue
            got.append(message)
            if until(message):
                return got


async def closed(ws: ClientConnection, timeout: float = 10.0) -> tuple[int, str, list[dict[str, Any]]]:  # noqa: ASYNC109
    """Read to the close: its code, its reason and what came before it (pings left out)."""
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        try:
            while True:
                message = json.loads(await ws.recv())
                if message["type"] != "ping":
                    got.append(message)
        except ConnectionClosed as e:
            assert e.rcvd is not None, "the server did not send a close frame"
            return e.rcvd.code, e.rcvd.reason, got


def sequences(messages: list[dict[str, Any]]) -> list[tuple[int, bool]]:
    return [(m["sequence"], m["final"]) for m in messages if m["type"] == "transcript_segment"]


async def test_snapshot_then_ordered_segments_then_the_close_with_the_final_status(  # type: ignore[no-untyped-def]
    gw, gateway, token, publish, segment_event, handled
) -> None:
    from transcript_svc.settings import SCHEMA
    from voice_shared.bus import subscription

    org = uuid.uuid4()
    sid, owner = await new_session(gateway, token, org)
    first = [segment_event(org, sid, 0, speaker="bot", text="Hello."), segment_event(org, sid, 1, text="Hi.")]
    for env in first:
        await publish(env)
    await handled(SCHEMA, subscription("transcript-svc", "segments").consumer, *(e.event_id for e in first))

    ws = await watch(gw, sid, org, token(org, "org_admin"))
    (snapshot,) = await receive(ws, lambda m: m["type"] == "snapshot")
    assert snapshot["status"] == "pending" and snapshot["nextSequence"] == 2
    assert [(s["sequence"], s["text"]) for s in snapshot["segments"]] == [(0, "Hello."), (1, "Hi.")]

    later = [segment_event(org, sid, 2, speaker="bot", text="Tell me", final=False),
             segment_event(org, sid, 2, speaker="bot", text="Tell me about yourself."),
             segment_event(org, sid, 1, text="Hi."),  # a redelivered one the snapshot had: not sent again
             segment_event(org, sid, 3, text="I build databases.", question_id="intro", follow_up_index=0)]
    for env in later:
        await publish(env)
    got = await receive(ws, lambda m: m.get("sequence") == 3)
    assert sequences(got) == [(2, False), (2, True), (3, True)]
    assert got[-1]["type"] == "transcript_segment" and got[-1]["questionId"] == "intro"
    await ws.send(json.dumps({"type": "ping"}))
    assert (await receive(ws, lambda m: m["type"] == "pong"))[-1] == {"type": "pong"}

    assert (await gateway.post(f"/api/voice/sessions/{sid}/cancel?orgId={org}", headers=owner)).status_code == 200
    code, reason, before = await closed(ws)
    assert (code, reason) == (1000, "cancelled")
    assert before[-1] == {"type": "session_status", "status": "cancelled", "reason": "cancelled_by_user",
                          "final": True}

    # After the end: a snapshot with the final status, then the close at once.
    ws = await watch(gw, sid, org, token(org, "org_admin"), via="message")
    code, reason, got = await closed(ws)
    assert (code, reason, got[0]["status"], len(got[0]["segments"])) == (1000, "cancelled", "cancelled", 4)


async def test_resume_after_a_disconnect_has_no_gap_and_no_duplicate(  # type: ignore[no-untyped-def]
    gw, gateway, token, publish, segment_event
) -> None:
    org = uuid.uuid4()
    sid, _ = await new_session(gateway, token, org)
    viewer = token(org, "org_admin")
    ws = await watch(gw, sid, org, viewer)
    await receive(ws, lambda m: m["type"] == "snapshot")
    for n in range(3):
        await publish(segment_event(org, sid, n))
    got = await receive(ws, lambda m: m.get("sequence") == 2)
    last = sequences(got)[-1][0]
    await ws.close()  # the viewer's network drops; the interview goes on
    for n in range(3, 6):
        await publish(segment_event(org, sid, n))
    await asyncio.sleep(0.3)

    again = await watch(gw, sid, org, viewer, after=last)
    (snapshot,) = await receive(again, lambda m: m["type"] == "snapshot")
    for n in range(6, 8):
        await publish(segment_event(org, sid, n))
    rest = await receive(again, lambda m: m.get("sequence") == 7)
    resumed = [s["sequence"] for s in snapshot["segments"]] + [s for s, _ in sequences(rest)]
    assert [s for s, _ in sequences(got)] + resumed == list(range(8))
    await again.close()


async def test_who_may_watch(gw, gateway, token, base_settings) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    sid, owner = await new_session(gateway, token, org, creator="recruiter-7")
    for user, level in (("viewer", "view"), ("reader", "view_transcript")):
        r = await gateway.post(f"/api/voice/sessions/{sid}/shares?orgId={org}", headers=owner,
                               json={"userId": user, "level": level})
        assert r.status_code == 201
    join_token, _ = JoinTokens(ServiceSettings(**base_settings.model_dump())).mint(sid, org, datetime.now(UTC))
    other = uuid.uuid4()
    refusals = {
        "candidate's join token": (join_token, org, 4401),
        "another org's owner": (token(other, "org_owner"), org, 4404),
        "another org's owner, naming its org": (token(other, "org_owner"), other, 4404),
        "a member without a share": (token(org, "org_user", sub="stranger"), org, 4404),
        "a 'view' share": (token(org, "org_user", sub="viewer"), org, 4403),
        "an expired token": (token(org, "org_admin", ttl_seconds=-60), org, 4401),
        "a forged token": (token(org, "org_admin") + "x", org, 4401),
    }
    for who, (bearer, named_org, code) in refusals.items():
        for via in ("protocol", "message"):
            ws = await watch(gw, sid, named_org, bearer, via=via)
            got_code, reason, got = await closed(ws)
            assert (got_code, got) == (code, []), (who, via, reason)
            assert reason, who
    for who in ("recruiter-7", "reader"):
        ws = await watch(gw, sid, org, token(org, "org_user", sub=who))
        assert (await receive(ws, lambda m: True))[0]["type"] == "snapshot", who
        await ws.close()

    # A socket lives as long as its token: then 4401, and a reconnect with a fresh one and ?after=.
    short = await watch(gw, sid, org, token(org, "org_admin", ttl_seconds=2))
    code, reason, got = await closed(short, timeout=10)
    assert (code, got[0]["type"]) == (4401, "snapshot") and "expired" in reason

    # A token in the URL is not looked at: the socket waits for one, then gives up.
    async with connect(live_url(gw, sid, org) + f"&token={token(org, 'org_admin')}") as ws:
        assert (await closed(ws))[:2] == (4408, 'send {"type": "auth", "token": ...} first')
    bad = [
        (f"{gw}/api/voice/sessions/not-a-uuid/live?orgId={org}", 4400),
        (f"{gw}/api/voice/sessions/{sid}/live", 4400),
        (live_url(gw, sid, org) + "&after=soon", 4400),
    ]
    for url, code in bad:
        async with connect(url) as ws:
            assert (await closed(ws))[0] == code, url
    async with connect(live_url(gw, sid, org)) as ws:
        await ws.send("not json")
        assert (await closed(ws))[0] == 4400


async def test_two_gateway_processes_each_serve_their_viewers(  # type: ignore[no-untyped-def]
    gw, served_gateway, gateway, token, publish, segment_event
) -> None:
    org = uuid.uuid4()
    sid, owner = await new_session(gateway, token, org)
    async with served_gateway() as other:
        viewers = [await watch(url, sid, org, token(org, "org_admin")) for url in (gw, other, other)]
        for ws in viewers:
            await receive(ws, lambda m: m["type"] == "snapshot")
        for n in range(5):
            await publish(segment_event(org, sid, n))
        for ws in viewers:
            got = await receive(ws, lambda m: m.get("sequence") == 4)
            assert sequences(got) == [(n, True) for n in range(5)]
        assert (await gateway.post(f"/api/voice/sessions/{sid}/cancel?orgId={org}", headers=owner)).status_code == 200
        for ws in viewers:
            assert (await closed(ws))[:2] == (1000, "cancelled")


async def test_a_viewer_too_far_behind_is_marked_and_the_others_are_not_slowed() -> None:
    hub, sid = LiveHub(), uuid.uuid4()
    slow, quick = Viewer(3), Viewer(3)
    hub.add(sid, slow)
    hub.add(sid, quick)
    for n in range(5):
        hub.publish(sid, {"type": "transcript_segment", "sequence": n, "final": True})
        assert quick.pending.get_nowait().text == f'{{"type":"transcript_segment","sequence":{n},"final":true}}'
        while not quick.pending.empty():
            quick.pending.get_nowait()
    assert slow.too_slow.is_set() and not quick.too_slow.is_set()
    hub.remove(sid, slow)
    hub.remove(sid, quick)
    assert hub.viewers(sid) == 0


def test_a_viewer_takes_each_sequence_once_and_a_final_over_an_interim() -> None:
    v = Viewer(10, after=1)
    offered = [(0, True), (2, False), (2, False), (2, True), (2, True), (3, True), (2, False)]
    assert [v.wants({"sequence": s, "final": f}) for s, f in offered] == [
        False, True, False, True, False, True, False]
