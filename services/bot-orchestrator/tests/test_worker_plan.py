"""session-svc's plan endpoint, as the bot reads it: only for the bot's identity, only the org's session."""

import uuid

from bot_orchestrator.worker.internal_api import SessionPassages
from voice_shared.api.bot import SessionPlan
from voice_shared.contracts import SessionStatus
from voice_shared.internal_api import SessionApi
from voice_shared.testing import auth, config_body, session_body


async def test_the_bot_reads_the_definition_status_and_enabled_kbs(session_svc, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    config = (await session_svc.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
    kbs = []
    for name in ("handbook", "glossary"):
        kb = (await session_svc.post(f"/api/voice/kbs?orgId={org}", json={"name": name}, headers=admin)).json()
        document = {"filename": f"{name}.md", "contentType": "text/markdown",
                    "text": "Our services deploy with canary releases and automatic rollback."}
        added = await session_svc.post(f"/api/voice/kbs/{kb['id']}/documents?orgId={org}", json=document,
                                       headers=admin)
        assert added.status_code == 201, added.text
        kbs.append(kb["id"])
    created = (await session_svc.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"], kbIds=kbs),
                                      headers=admin)).json()
    sid = created["id"]
    await session_svc.patch(f"/api/voice/sessions/{sid}/kbs/{kbs[1]}?orgId={org}", json={"enabled": False},
                            headers=admin)
    bot = auth(token(service="bot"))

    answer = await session_svc.get(f"/internal/sessions/{sid}/plan?orgId={org}", headers=bot)

    assert answer.status_code == 200, answer.text
    plan = SessionPlan.model_validate(answer.json())
    assert (str(plan.session_id), plan.org_id, plan.status) == (sid, org, SessionStatus.pending)
    assert (str(plan.config_id), plan.config_version) == (config["id"], 1)
    assert [q.id for q in plan.definition.questions] == [q["id"] for q in config["questions"]]
    assert plan.definition.providers.transport == "local"
    assert [str(k) for k in plan.kb_ids] == [kbs[0]]  # the disabled one is not the bot's to search

    # Through the bot's own client: the same plan, and grounding passages from the enabled KB only.
    api = SessionApi(session_svc, lambda: token(service="bot"))
    assert await api.plan(org, uuid.UUID(sid)) == plan
    passages = await SessionPassages(api, org, plan.kb_ids).search("how do you deploy safely", 3)
    assert passages and "canary" in passages[0].text and passages[0].source == "handbook.md"
    assert await api.plan(uuid.uuid4(), uuid.UUID(sid)) is None  # another org's: no such session


async def test_only_the_bot_may_read_a_plan(session_svc, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    config = (await session_svc.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
    sid = (await session_svc.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]),
                                  headers=admin)).json()["id"]
    url = f"/internal/sessions/{sid}/plan?orgId={org}"

    as_admin = await session_svc.get(url, headers=admin)
    as_gateway = await session_svc.get(url, headers=auth(token(None, service="gateway")))
    anonymous = await session_svc.get(url)
    deleted = await session_svc.delete(f"/api/voice/sessions/{sid}?orgId={org}", headers=admin)
    after_delete = await session_svc.get(url, headers=auth(token(service="bot")))

    assert as_admin.status_code == 403 and as_admin.json()["error"]["code"] == "service_only"
    assert as_gateway.status_code == 403 and as_gateway.json()["error"]["code"] == "bot_only"
    assert anonymous.status_code == 401
    assert deleted.status_code == 204
    assert after_delete.status_code == 404 and after_delete.json()["error"]["code"] == "session_not_found"
