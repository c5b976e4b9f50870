"""Local (embedded) rooms through the shared session-svc: the room is the gateway's offer route."""

import asyncio
import uuid

from sqlalchemy import select
from sqlmodel import col

from session_svc.models import VoiceRoom
from voice_shared.db import transaction
from voice_shared.testing import auth, config_body, session_body


async def local_session(client, org, headers):  # type: ignore[no-untyped-def]
    config = (await client.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=headers)).json()
    r = await client.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]), headers=headers)
    return r.json()["id"]


async def test_a_local_room_is_the_gateway_offer_route_and_goes_with_the_session(  # type: ignore[no-untyped-def]
    session_svc, session_svc_app, token
) -> None:
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    sid = await local_session(session_svc, org, admin)
    pending = (await session_svc.get(f"/api/voice/sessions/{sid}?orgId={org}", headers=admin)).json()
    assert pending["room"] is None

    started = (await session_svc.post(f"/api/voice/sessions/{sid}/start?orgId={org}", headers=admin)).json()
    public_url = session_svc_app.state.settings.public_url.rstrip("/")
    assert started["room"]["provider"] == "local" and started["room"]["name"] == f"{sid}-1"
    assert started["room"]["url"] == f"{public_url}/api/voice/sessions/{sid}/webrtc/offer?orgId={org}"

    bot = auth(token(service="bot"))
    access = (await session_svc.get(f"/internal/sessions/{sid}/room?orgId={org}", headers=bot)).json()
    assert access["token"] is None and access["url"] == started["room"]["url"]

    await session_svc.post(f"/api/voice/sessions/{sid}/cancel?orgId={org}", headers=admin)
    for _ in range(200):
        async with transaction(session_svc_app.state.sessions, org) as tx:
            [room] = (await tx.execute(select(VoiceRoom).where(col(VoiceRoom.session_id) == uuid.UUID(sid)))).scalars()
        if room.deleted_at is not None:
            break
        await asyncio.sleep(0.05)
    assert room.deleted_at is not None and room.last_error is None
    r = await session_svc.get(f"/internal/sessions/{sid}/room?orgId={org}", headers=bot)
    assert r.status_code == 404 and r.json()["error"]["code"] == "room_not_found"


async def test_lists_never_carry_rooms(session_svc, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    sid = await local_session(session_svc, org, admin)
    await session_svc.post(f"/api/voice/sessions/{sid}/start?orgId={org}", headers=admin)
    page = (await session_svc.get(f"/api/voice/sessions?orgId={org}", headers=admin)).json()
    assert page["items"][0]["id"] == sid and page["items"][0]["room"] is None
