"""Input that passes validation but that Postgres cannot take is a 422 with a clear code, not a 500."""

import uuid

from voice_shared.testing import auth


async def test_nul_characters_in_query_parameters_are_a_422(gateway, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    kb = (await gateway.post(f"/api/voice/kbs?orgId={org}", json={"name": "Handbook"}, headers=admin)).json()
    for path in (f"/api/voice/kbs/{kb['id']}/search?orgId={org}&q=a%00b",
                 f"/api/voice/sessions?orgId={org}&candidate=a%00b"):
        r = await gateway.get(path, headers=admin)
        assert r.status_code == 422, path
        assert r.json()["error"]["code"] == "invalid_value"
