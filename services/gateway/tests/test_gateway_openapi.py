"""The gateway's OpenAPI document: every public route, typed, and nothing internal."""

from typing import Any

import pytest

from gateway.app import create_app
from gateway.settings import GatewaySettings
from voice_shared.api.transcripts import CONTENT_TYPES

FILE = "a file"  # a download: its media types instead of a JSON schema
PUBLIC_ROUTES = {
    ("post", "/api/voice/configs"): ("ConfigCreate", "201", "ConfigPublic"),
    ("get", "/api/voice/configs"): (None, "200", "Page_ConfigPublic_"),
    ("get", "/api/voice/configs/{config_id}"): (None, "200", "ConfigPublic"),
    ("patch", "/api/voice/configs/{config_id}"): ("ConfigUpdate", "200", "ConfigPublic"),
    ("delete", "/api/voice/configs/{config_id}"): (None, "204", None),
    ("get", "/api/voice/configs/{config_id}/versions/{version}"): (None, "200", "ConfigVersionPublic"),
    ("post", "/api/voice/sessions"): ("SessionCreate", "201", "SessionPublic"),
    ("get", "/api/voice/sessions"): (None, "200", "Page_SessionPublic_"),
    ("get", "/api/voice/sessions/{session_id}"): (None, "200", "SessionPublic"),
    ("patch", "/api/voice/sessions/{session_id}"): ("SessionUpdate", "200", "SessionPublic"),
    ("delete", "/api/voice/sessions/{session_id}"): (None, "204", None),
    ("post", "/api/voice/sessions/{session_id}/start"): ("SessionTransition", "200", "SessionPublic"),
    ("post", "/api/voice/sessions/{session_id}/dispatch"): (None, "200", "SessionPublic"),
    ("get", "/api/voice/pool"): (None, "200", "PoolPublic"),
    ("put", "/api/voice/pool/schedule"): ("PoolSchedule", "200", "PoolPublic"),
    ("post", "/api/voice/sessions/{session_id}/end"): ("SessionTransition", "200", "SessionPublic"),
    ("post", "/api/voice/sessions/{session_id}/cancel"): ("SessionTransition", "200", "SessionPublic"),
    ("get", "/api/voice/sessions/{session_id}/shares"): (None, "200", "SharePublic[]"),
    ("post", "/api/voice/sessions/{session_id}/shares"): ("ShareCreate", "201", "SharePublic"),
    ("delete", "/api/voice/sessions/{session_id}/shares/{share_id}"): (None, "204", None),
    ("get", "/api/voice/stats"): (None, "200", "Stats"),
    ("post", "/api/voice/kbs"): ("KbCreate", "201", "KbPublic"),
    ("get", "/api/voice/kbs"): (None, "200", "Page_KbPublic_"),
    ("get", "/api/voice/kbs/{kb_id}"): (None, "200", "KbPublic"),
    ("delete", "/api/voice/kbs/{kb_id}"): (None, "204", None),
    ("post", "/api/voice/kbs/{kb_id}/documents"): ("DocumentCreate", "201", "DocumentPublic"),
    ("get", "/api/voice/kbs/{kb_id}/documents"): (None, "200", "DocumentPublic[]"),
    ("delete", "/api/voice/kbs/{kb_id}/documents/{document_id}"): (None, "204", None),
    ("get", "/api/voice/kbs/{kb_id}/search"): (None, "200", "SearchResults"),
    ("get", "/api/voice/sessions/{session_id}/kbs"): (None, "200", "KbLinkPublic[]"),
    ("post", "/api/voice/sessions/{session_id}/kbs"): ("KbLinkCreate", "201", "KbLinkPublic"),
    ("patch", "/api/voice/sessions/{session_id}/kbs/{kb_id}"): ("KbLinkUpdate", "200", "KbLinkPublic"),
    ("delete", "/api/voice/sessions/{session_id}/kbs/{kb_id}"): (None, "204", None),
    ("post", "/api/voice/credentials"): ("CredentialCreate", "201", "CredentialPublic"),
    ("get", "/api/voice/credentials"): (None, "200", "Page_CredentialPublic_"),
    ("get", "/api/voice/credentials/{credential_id}"): (None, "200", "CredentialPublic"),
    ("patch", "/api/voice/credentials/{credential_id}"): ("CredentialUpdate", "200", "CredentialPublic"),
    ("delete", "/api/voice/credentials/{credential_id}"): (None, "204", None),
    ("post", "/api/voice/credentials/{credential_id}/validate"): (None, "200", "ValidationResult"),
    ("post", "/api/voice/admin/credentials"): ("CredentialCreate", "201", "CredentialPublic"),
    ("get", "/api/voice/admin/credentials"): (None, "200", "Page_CredentialPublic_"),
    ("get", "/api/voice/admin/credentials/{credential_id}"): (None, "200", "CredentialPublic"),
    ("patch", "/api/voice/admin/credentials/{credential_id}"): ("CredentialUpdate", "200", "CredentialPublic"),
    ("delete", "/api/voice/admin/credentials/{credential_id}"): (None, "204", None),
    ("post", "/api/voice/admin/credentials/{credential_id}/validate"): (None, "200", "ValidationResult"),
    ("post", "/api/voice/sessions/{session_id}/webrtc/offer"): ("WebRtcOffer", "200", "WebRtcAnswer"),
    ("get", "/api/voice/transcripts"): (None, "200", "Page_TranscriptListItem_"),
    ("get", "/api/voice/transcripts/{transcript_id}"): (None, "200", "TranscriptPublic"),
    ("get", "/api/voice/transcripts/{transcript_id}/export"): (None, "200", FILE),
    ("delete", "/api/voice/transcripts/{transcript_id}"): (None, "204", None),
    ("get", "/api/voice/transcripts/{transcript_id}/recording"): (None, "200", "RecordingPublic"),
    ("get", "/api/voice/recordings/{token}"): (None, "200", "audio/ogg"),
    ("get", "/api/voice/settings"): (None, "200", "OrgSettingsPublic"),
    ("put", "/api/voice/settings"): ("OrgSettingsUpdate", "200", "OrgSettingsPublic"),
    ("delete", "/api/voice/candidates"): (None, "200", "ErasureReceipt"),
    ("get", "/api/voice/analytics"): (None, "200", "Page_AnalyticsListItem_"),
    ("get", "/api/voice/analytics/agreement"): (None, "200", "Agreement"),
    ("get", "/api/voice/analytics/{session_id}"): (None, "200", "AnalyticsPublic"),
    ("get", "/api/voice/analytics/{session_id}/versions"): (None, "200", "AnalyticsPublic[]"),
    ("post", "/api/voice/analytics/{session_id}/rescore"): ("RescoreRequest", "201", "AnalyticsPublic"),
    ("get", "/api/voice/analytics/{session_id}/reviews"): (None, "200", "ReviewPublic[]"),
    ("post", "/api/voice/analytics/{session_id}/reviews"): ("ReviewCreate", "201", "ReviewPublic"),
}
# Bodies that may be left out (every field has a default).
OPTIONAL_BODIES = {"SessionTransition", "RescoreRequest"}
# A signed link is its own credential: no bearer token, no orgId.
SIGNED_LINKS = {("get", "/api/voice/recordings/{token}")}
# Routes that also take a candidate's join token, which names its own organisation.
ORG_FROM_JOIN_TOKEN = {("post", "/api/voice/sessions/{session_id}/webrtc/offer")}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return create_app(GatewaySettings(environment="test")).openapi()


def schema_name(schema: dict[str, Any]) -> str:
    """``ConfigPublic`` for a $ref, ``SharePublic[]`` for an array of them (nullable bodies unwrapped)."""
    if "anyOf" in schema:
        [schema] = [s for s in schema["anyOf"] if s.get("type") != "null"]
    if schema.get("type") == "array":
        return schema_name(schema["items"]) + "[]"
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def operations(openapi: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): op for path, ops in openapi["paths"].items() for method, op in ops.items()}


def test_every_public_route_and_nothing_else(openapi) -> None:  # type: ignore[no-untyped-def]
    assert set(operations(openapi)) == set(PUBLIC_ROUTES)
    assert openapi["info"]["title"] == "Voice interview platform API"


@pytest.mark.parametrize("route", sorted(PUBLIC_ROUTES))
def test_each_route_documents_its_body_parameters_and_answers(openapi, route) -> None:  # type: ignore[no-untyped-def]
    request_model, success, response_model = PUBLIC_ROUTES[route]
    op = operations(openapi)[route]
    if request_model is None:
        assert "requestBody" not in op
    else:
        body = op["requestBody"]
        assert schema_name(body["content"]["application/json"]["schema"]) == request_model
        assert body.get("required", False) == (request_model not in OPTIONAL_BODIES)

    params = {p["name"]: p for p in op.get("parameters", [])}
    org_id = params.get("orgId")
    if route[1].startswith(("/api/voice/admin/", "/api/voice/pool")) or route in SIGNED_LINKS:
        assert org_id is None  # platform scope (credentials, the bot pool), or the link names it
    elif route in ORG_FROM_JOIN_TOKEN:
        assert org_id is not None
        assert not org_id["required"] and {"format": "uuid", "type": "string"} in org_id["schema"]["anyOf"]
    else:
        assert org_id is not None
        assert org_id["required"] and org_id["schema"]["format"] == "uuid"
    for name in (part[1:-1] for part in route[1].split("/") if part.startswith("{")):
        assert params[name]["in"] == "path" and params[name]["required"]

    answers = op["responses"]
    if response_model is None:
        assert "content" not in answers[success]
    elif response_model == FILE:
        assert set(answers[success]["content"]) == set(CONTENT_TYPES.values())
    elif route in SIGNED_LINKS:
        assert set(answers[success]["content"]) == {response_model}
    else:
        assert schema_name(answers[success]["content"]["application/json"]["schema"]) == response_model
    for status in ("401", "404", "422", "503"):
        error = answers[status]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorResponse"}
    assert op.get("security") == (None if route in SIGNED_LINKS else [{"HTTPBearer": []}])


def test_list_filters_are_documented(openapi) -> None:  # type: ignore[no-untyped-def]
    params = {p["name"] for p in operations(openapi)[("get", "/api/voice/sessions")]["parameters"]}
    assert params == {"orgId", "status", "workspaceId", "configId", "interviewType", "candidate",
                      "createdFrom", "createdTo", "limit", "cursor"}
    params = {p["name"] for p in operations(openapi)[("get", "/api/voice/transcripts")]["parameters"]}
    assert params == {"orgId", "sessionId", "configId", "candidate", "createdFrom", "createdTo", "hasAnalytics",
                      "limit", "cursor"}
    search = {p["name"]: p for p in operations(openapi)[("get", "/api/voice/kbs/{kb_id}/search")]["parameters"]}
    assert search["q"]["required"] and not search["k"]["required"]


def test_write_models_refuse_unknown_fields(openapi) -> None:  # type: ignore[no-untyped-def]
    schemas = openapi["components"]["schemas"]
    for name in ("ConfigCreate", "ConfigUpdate", "SessionCreate", "SessionUpdate", "ShareCreate",
                 "KbCreate", "DocumentCreate", "KbLinkCreate", "KbLinkUpdate", "CredentialCreate",
                 "CredentialUpdate", "OrgSettingsUpdate"):
        assert schemas[name]["additionalProperties"] is False, name
