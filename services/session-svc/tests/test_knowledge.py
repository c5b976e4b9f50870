"""Knowledge bases against real Postgres: CRUD, documents, full-text search, session links."""

import uuid
from typing import Any

import pytest

from session_svc.knowledge.chunking import chunk_text
from session_svc.knowledge.service import enabled_kb_ids
from voice_shared.api.kbs import MAX_DOCUMENT_CHARS
from voice_shared.db import transaction
from voice_shared.testing import auth, config_body, session_body

FILLER = ("The people team keeps this page current and answers questions through the internal help "
          "desk. Managers walk new colleagues through these rules during onboarding, and changes are "
          "announced in the company newsletter before they apply. ")

HANDBOOK = "\n\n".join([
    "# Employee handbook",
    "## Time off\n\nEvery member of staff is entitled to 25 days of paid holiday per calendar year, "
    "plus public holidays. Unused leave may be carried into the first quarter. " + FILLER * 4,
    "## Expenses\n\nClaims are filed in the finance tool with a photo of each receipt. Travel is booked "
    "through the approved agency; alcohol is never reimbursed. " + FILLER * 4,
    "## Security\n\nLaptops use full-disk encryption and a password manager. A lost device is reported "
    "to IT immediately so it can be wiped remotely. " + FILLER * 4,
    "## Remote work\n\nColleagues may work from home with their manager's agreement and must keep "
    "customer data on company equipment only. " + FILLER * 4,
])

PARTY = ("The holiday party is the highlight of winter. Holiday decorations go up early, the holiday "
         "playlist is shared, the holiday raffle raises money and holiday sweaters are encouraged.")


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


async def make_kb(client, org, headers, **overrides: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = {"name": f"Handbook {uuid.uuid4().hex[:8]}", "description": "Company rules", **overrides}
    r = await client.post(f"/api/voice/kbs?orgId={org}", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def upload(client, org, headers, kb_id, text, filename="doc.md", content_type="text/markdown"):  # type: ignore[no-untyped-def]
    r = await client.post(f"/api/voice/kbs/{kb_id}/documents?orgId={org}", headers=headers,
                          json={"filename": filename, "contentType": content_type, "text": text})
    assert r.status_code == 201, r.text
    return r.json()


async def search(client, org, headers, kb_id, q, k=5):  # type: ignore[no-untyped-def]
    r = await client.get(f"/api/voice/kbs/{kb_id}/search", params={"orgId": str(org), "q": q, "k": k},
                         headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["hits"]


async def make_session(client, token, org, headers, **overrides: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A session created by ``headers``' caller, on a config an org admin just made."""
    admin = auth(token(org, "org_admin"))
    r = await client.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/voice/sessions?orgId={org}", headers=headers,
                          json=session_body(r.json()["id"], **overrides))
    assert r.status_code == 201, r.text
    return r.json()


# --- knowledge bases -------------------------------------------------------------------------


async def test_kb_crud(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    admin, member = auth(token(org, "org_admin", sub="kb-admin")), auth(token(org, "org_user"))
    kb = await make_kb(session_svc, org, admin, name="Handbook")
    assert kb["name"] == "Handbook" and kb["documentCount"] == 0 and kb["createdBy"] == "kb-admin"
    assert kb["orgId"] == str(org)

    r = await session_svc.post(f"/api/voice/kbs?orgId={org}", json={"name": "Handbook"}, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "kb_name_taken"
    other = uuid.uuid4()
    await make_kb(session_svc, other, auth(token(other, "org_owner")), name="Handbook")

    r = await session_svc.get(f"/api/voice/kbs/{kb['id']}?orgId={org}", headers=member)
    assert r.status_code == 200 and r.json() == kb
    r = await session_svc.post(f"/api/voice/kbs?orgId={org}", json={"name": "Mine"}, headers=member)
    assert r.status_code == 403 and r.json()["error"]["code"] == "admin_required"
    r = await session_svc.delete(f"/api/voice/kbs/{kb['id']}?orgId={org}", headers=member)
    assert r.status_code == 403

    assert (await session_svc.delete(f"/api/voice/kbs/{kb['id']}?orgId={org}", headers=admin)).status_code == 204
    r = await session_svc.get(f"/api/voice/kbs/{kb['id']}?orgId={org}", headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "kb_not_found"
    assert (await session_svc.delete(f"/api/voice/kbs/{kb['id']}?orgId={org}", headers=admin)).status_code == 404
    await make_kb(session_svc, org, admin, name="Handbook")  # the name is free again


async def test_kb_list_pages_newest_first(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_owner"))
    made = [await make_kb(session_svc, org, admin) for _ in range(5)]
    await upload(session_svc, org, admin, made[0]["id"], "One short document.")
    seen, cursor = [], ""
    while True:
        r = await session_svc.get(f"/api/voice/kbs?orgId={org}&limit=2{cursor}", headers=auth(token(org)))
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["total"] == 5
        seen += page["items"]
        if not page["nextCursor"]:
            break
        cursor = f"&cursor={page['nextCursor']}"
    assert [k["id"] for k in seen] == [k["id"] for k in reversed(made)]
    assert seen[-1]["documentCount"] == 1 and seen[0]["documentCount"] == 0
    r = await session_svc.get(f"/api/voice/kbs?orgId={org}&limit=0", headers=admin)
    assert r.status_code == 422


# --- documents -------------------------------------------------------------------------------


async def test_documents_are_chunked_listed_and_deleted(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    admin, member = auth(token(org, "org_admin")), auth(token(org))
    kb = await make_kb(session_svc, org, admin)
    short = await upload(session_svc, org, admin, kb["id"], "Café rules: tidy up after lunch.",
                         filename="cafe.txt", content_type="text/plain")
    assert short["chunkCount"] == 1 and short["contentType"] == "text/plain"
    assert short["sizeBytes"] == len("Café rules: tidy up after lunch.".encode())
    handbook = await upload(session_svc, org, admin, kb["id"], HANDBOOK, filename="handbook.md")
    assert handbook["chunkCount"] == len(chunk_text(HANDBOOK, markdown=True)) >= 4
    assert handbook["sizeBytes"] == len(HANDBOOK.strip().encode()) and handbook["kbId"] == kb["id"]

    base = f"/api/voice/kbs/{kb['id']}/documents?orgId={org}"
    listed = (await session_svc.get(base, headers=member)).json()
    assert [d["filename"] for d in listed] == ["cafe.txt", "handbook.md"]
    fetched = await session_svc.get(f"/api/voice/kbs/{kb['id']}?orgId={org}", headers=member)
    assert fetched.json()["documentCount"] == 2

    r = await session_svc.post(base, json={"filename": "x.txt", "text": "x"}, headers=member)
    assert r.status_code == 403
    doc_path = f"/api/voice/kbs/{kb['id']}/documents/{handbook['id']}?orgId={org}"
    assert (await session_svc.delete(doc_path, headers=member)).status_code == 403
    assert await search(session_svc, org, member, kb["id"], "encryption")
    assert (await session_svc.delete(doc_path, headers=admin)).status_code == 204
    assert await search(session_svc, org, member, kb["id"], "encryption") == []  # chunks went too
    r = await session_svc.delete(doc_path, headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "document_not_found"
    assert [d["id"] for d in (await session_svc.get(base, headers=admin)).json()] == [short["id"]]

    other_kb = await make_kb(session_svc, org, admin)
    r = await session_svc.delete(f"/api/voice/kbs/{other_kb['id']}/documents/{short['id']}?orgId={org}",
                                 headers=admin)
    assert r.status_code == 404  # a document is addressed through its own KB only
    r = await session_svc.post(f"/api/voice/kbs/{uuid.uuid4()}/documents?orgId={org}", headers=admin,
                               json={"filename": "x.txt", "text": "x"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "kb_not_found"


async def test_oversize_and_empty_documents_are_refused(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_admin"))
    kb = await make_kb(session_svc, org, admin)
    base = f"/api/voice/kbs/{kb['id']}/documents?orgId={org}"
    too_big = "a" * (MAX_DOCUMENT_CHARS + 1)
    r = await session_svc.post(base, headers=admin, json={"filename": "big.txt", "text": too_big})
    assert r.status_code == 413 and r.json()["error"]["code"] == "document_too_large"
    assert str(MAX_DOCUMENT_CHARS) in r.json()["error"]["message"]
    r = await session_svc.post(base, headers=admin, json={"filename": "blank.txt", "text": "  \n "})
    assert r.status_code == 422
    r = await session_svc.post(base, headers=admin, json={"filename": "ctl.txt", "text": "\x1c\x1d\x1e"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "document_empty"
    r = await session_svc.post(base, headers=admin, json={"filename": "a.pdf", "contentType": "application/pdf",
                                                          "text": "x"})
    assert r.status_code == 422
    assert (await session_svc.get(base, headers=admin)).json() == []


# --- search ----------------------------------------------------------------------------------


async def test_search_finds_the_passage_for_a_paraphrased_question(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    admin, member = auth(token(org, "org_admin")), auth(token(org))
    kb = await make_kb(session_svc, org, admin)
    doc = await upload(session_svc, org, admin, kb["id"], HANDBOOK, filename="handbook.md")
    await upload(session_svc, org, admin, kb["id"], PARTY, filename="party.txt", content_type="text/plain")

    # "new" occurs in every section (new colleagues), so every passage is a candidate.
    hits = await search(session_svc, org, member, kb["id"], "How many vacation days can new staff take each year?")
    assert len(hits) >= 4 and "25 days of paid holiday" in hits[0]["text"]
    assert hits[0]["filename"] == "handbook.md" and hits[0]["documentId"] == doc["id"]
    assert hits[0]["kbId"] == kb["id"] and 0 < hits[0]["score"] < 1

    # The party notice says "holiday" five times but answers nothing about annual leave.
    hits = await search(session_svc, org, member, kb["id"], "paid holidays allowance per year")
    assert "25 days" in hits[0]["text"]
    assert [h["filename"] for h in hits].index("party.txt") > 0
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)

    hits = await search(session_svc, org, member, kb["id"], "what should I do if my laptop gets lost")
    assert "wiped remotely" in hits[0]["text"]


async def test_search_matches_any_word_and_respects_k(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_admin"))
    kb = await make_kb(session_svc, org, admin)
    await upload(session_svc, org, admin, kb["id"], HANDBOOK)
    # Only "encryption" occurs in the KB: with AND semantics this would find nothing.
    hits = await search(session_svc, org, admin, kb["id"], "encryption quokka zeppelin")
    assert len(hits) == 1 and "full-disk encryption" in hits[0]["text"]

    assert len(await search(session_svc, org, admin, kb["id"], "people team newsletter", k=2)) == 2
    assert len(await search(session_svc, org, admin, kb["id"], "people team newsletter", k=50)) >= 4
    for q in ("the and of", "?!", "   "):
        assert await search(session_svc, org, admin, kb["id"], q) == []
    for bad in ("k=0", "k=51", "q="):
        r = await session_svc.get(f"/api/voice/kbs/{kb['id']}/search?orgId={org}&q=x&{bad}", headers=admin)
        assert r.status_code == 422, bad


async def test_search_stays_inside_the_kb_and_the_org(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_admin"))
    kb, other_kb = await make_kb(session_svc, org, admin), await make_kb(session_svc, org, admin)
    await upload(session_svc, org, admin, other_kb["id"], HANDBOOK)
    assert await search(session_svc, org, admin, kb["id"], "encryption") == []
    r = await session_svc.get(f"/api/voice/kbs/{uuid.uuid4()}/search?orgId={org}&q=encryption", headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "kb_not_found"
    stranger_org = uuid.uuid4()
    r = await session_svc.get(f"/api/voice/kbs/{other_kb['id']}/search?orgId={stranger_org}&q=encryption",
                              headers=auth(token(stranger_org, "org_owner")))
    assert r.status_code == 404


async def test_internal_search_is_for_services_only(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_owner"))
    kb = await make_kb(session_svc, org, admin)
    await upload(session_svc, org, admin, kb["id"], HANDBOOK, filename="handbook.md")
    other = uuid.uuid4()
    foreign_kb = await make_kb(session_svc, other, auth(token(other, "org_admin")))
    await upload(session_svc, other, auth(token(other, "org_admin")), foreign_kb["id"], "Encryption secrets.")
    body = {"orgId": str(org), "kbIds": [kb["id"], foreign_kb["id"], str(uuid.uuid4())],
            "query": "how is laptop encryption handled", "k": 3}

    r = await session_svc.post("/internal/kb/search", json=body, headers=admin)
    assert r.status_code == 403 and r.json()["error"]["code"] == "service_only"
    bot = auth(token(service="bot", sub="bot-1"))
    r = await session_svc.post("/internal/kb/search", json=body, headers=bot)
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert hits and len(hits) <= 3 and "full-disk encryption" in hits[0]["text"]
    assert {h["kbId"] for h in hits} == {kb["id"]}  # another org's KB is never searched
    r = await session_svc.post("/internal/kb/search", headers=bot, json={**body, "orgId": str(other)})
    assert [h["kbId"] for h in r.json()["hits"]] == [foreign_kb["id"]]
    r = await session_svc.post("/internal/kb/search", headers=bot, json={**body, "kbIds": []})
    assert r.status_code == 422
    assert (await session_svc.post("/internal/kb/search", json=body)).status_code == 401


# --- session links ---------------------------------------------------------------------------


async def test_session_kb_links(session_svc, session_svc_app, token, org) -> None:  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_admin"))
    kb1, kb2 = await make_kb(session_svc, org, admin), await make_kb(session_svc, org, admin)
    session = await make_session(session_svc, token, org, admin, kbIds=[kb1["id"], kb1["id"]])
    base = f"/api/voice/sessions/{session['id']}/kbs"
    q = f"?orgId={org}"

    links = (await session_svc.get(base + q, headers=admin)).json()
    assert [(x["kbId"], x["name"], x["enabled"]) for x in links] == [(kb1["id"], kb1["name"], True)]

    r = await session_svc.post(base + q, json={"kbId": kb2["id"]}, headers=admin)
    assert r.status_code == 201 and r.json()["enabled"] and r.json()["name"] == kb2["name"]
    r = await session_svc.post(base + q, json={"kbId": kb2["id"], "enabled": False}, headers=admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "kb_already_linked"

    r = await session_svc.patch(f"{base}/{kb2['id']}{q}", json={"enabled": False}, headers=admin)
    assert r.status_code == 200 and r.json()["enabled"] is False
    async with transaction(session_svc_app.state.sessions, org) as tx:
        assert await enabled_kb_ids(tx, uuid.UUID(session["id"])) == [uuid.UUID(kb1["id"])]
    r = await session_svc.patch(f"{base}/{kb2['id']}{q}", json={"enabled": True}, headers=admin)
    assert r.json()["enabled"] is True

    assert (await session_svc.delete(f"{base}/{kb2['id']}{q}", headers=admin)).status_code == 204
    r = await session_svc.patch(f"{base}/{kb2['id']}{q}", json={"enabled": True}, headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "kb_link_not_found"
    assert (await session_svc.delete(f"{base}/{kb2['id']}{q}", headers=admin)).status_code == 404

    # Deleting a KB removes it from the sessions that used it.
    await session_svc.delete(f"/api/voice/kbs/{kb1['id']}{q}", headers=admin)
    assert (await session_svc.get(base + q, headers=admin)).json() == []


async def test_another_orgs_kb_cannot_be_linked(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_admin"))
    other = uuid.uuid4()
    foreign = await make_kb(session_svc, other, auth(token(other, "org_admin")))
    session = await make_session(session_svc, token, org, admin)
    r = await session_svc.post(f"/api/voice/sessions/{session['id']}/kbs?orgId={org}",
                               json={"kbId": foreign["id"]}, headers=admin)
    assert r.status_code == 404 and r.json()["error"]["code"] == "kb_not_found"

    mine = await make_kb(session_svc, org, admin)
    config = (await session_svc.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
    r = await session_svc.post(f"/api/voice/sessions?orgId={org}", headers=admin,
                               json=session_body(config["id"], kbIds=[mine["id"], foreign["id"]]))
    assert r.status_code == 404 and r.json()["error"]["code"] == "kb_not_found"
    assert r.json()["error"]["details"] == {"kbIds": [foreign["id"]]}
    sessions = (await session_svc.get(f"/api/voice/sessions?orgId={org}", headers=admin)).json()
    assert sessions["total"] == 1  # the refused session was not created either


async def test_link_permissions_follow_session_access(session_svc, token, org) -> None:  # type: ignore[no-untyped-def]
    admin = auth(token(org, "org_admin"))
    kb = await make_kb(session_svc, org, admin)
    owner = auth(token(org, sub="olive"))
    session = await make_session(session_svc, token, org, owner, kbIds=[kb["id"]])
    base, q = f"/api/voice/sessions/{session['id']}/kbs", f"?orgId={org}"
    await session_svc.post(f"/api/voice/sessions/{session['id']}/shares{q}", headers=owner,
                           json={"userId": "viv", "level": "view"})
    viewer, stranger = auth(token(org, sub="viv")), auth(token(org, sub="stan"))

    assert len((await session_svc.get(base + q, headers=viewer)).json()) == 1
    r = await session_svc.patch(f"{base}/{kb['id']}{q}", json={"enabled": False}, headers=viewer)
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_access"
    assert (await session_svc.get(base + q, headers=stranger)).status_code == 404
    r = await session_svc.patch(f"{base}/{kb['id']}{q}", json={"enabled": False}, headers=owner)
    assert r.status_code == 200  # the session's creator manages it, though not a KB admin

    await session_svc.post(f"/api/voice/sessions/{session['id']}/cancel{q}", headers=owner)
    r = await session_svc.patch(f"{base}/{kb['id']}{q}", json={"enabled": True}, headers=owner)
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_ended"
    assert len((await session_svc.get(base + q, headers=owner)).json()) == 1
