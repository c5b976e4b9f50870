"""Hostile headers and query strings get clear answers, never a 500, and cannot stop the platform's
events; an unexpected error does not close the connection it came on."""

import asyncio
import socket
import uuid

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from voice_shared.http import create_service_app
from voice_shared.settings import ServiceSettings
from voice_shared.testing import auth, config_body, session_body

pytestmark = pytest.mark.chaos


async def test_a_huge_correlation_id_is_replaced_and_events_of_every_org_keep_flowing(  # type: ignore[no-untyped-def]
    gateway, token, event_log, fault_report
) -> None:
    sent, ids = [], []
    for correlation in ("x" * 8000, "é-non-ascii", "tab\tin-it", "fine-id-123"):
        org = uuid.uuid4()
        admin = auth(token(org, "org_admin"))
        config = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
        made = await gateway.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]),
                                  headers=httpx.Headers({**admin, "X-Correlation-ID": correlation.encode()}))
        assert made.status_code == 201, made.text
        sent.append(made.json()["id"])
        ids.append(made.headers["x-correlation-id"])
    arrived = [await event_log.wait_for(sid, "session.created") for sid in sent]
    fault_report("8,000-char and non-ASCII X-Correlation-ID", sent=len(sent),
                 lost=len(sent) - sum(1 for a in arrived if a))

    assert ids[-1] == "fine-id-123"
    for returned in ids[:-1]:  # replaced by a fresh id
        assert len(returned) == 32 and returned.isalnum()
    assert [a[0]["correlation_id"] for a in arrived] == ids


@pytest.mark.parametrize("header", ["x-correlation-id", "authorization", "user-agent", "accept", "x-anything"])
async def test_raw_non_ascii_bytes_in_a_header_are_never_a_500(gateway, token, header) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    good = auth(token(org, "org_admin"))
    for value in (b"\xff\xfe", "é".encode(), b"caf\xc3"):
        headers = [(k.encode(), v.encode()) for k, v in good.items() if k.lower() != header]
        headers.append((header.encode(), value))
        for path in ("/healthz", "/readyz", f"/api/voice/sessions?orgId={org}", f"/api/voice/configs?orgId={org}"):
            answer = await gateway.get(path, headers=httpx.Headers(headers))
            assert answer.status_code < 500, (header, value, path, answer.text)
            if answer.status_code >= 400:
                assert answer.json()["error"]["code"]


async def test_a_date_range_without_a_timezone_is_a_422_that_says_so(gateway, token) -> None:  # type: ignore[no-untyped-def]
    org = uuid.uuid4()
    admin = auth(token(org, "org_admin"))
    for query in ("createdFrom=2026-01-01T00:00:00", "createdTo=2026-01-01", "createdFrom=yesterday"):
        answer = await gateway.get(f"/api/voice/sessions?orgId={org}&{query}", headers=admin)
        assert answer.status_code == 422, (query, answer.text)
        assert answer.json()["error"]["code"] == "validation_failed"
        assert query.split("=")[0] in answer.json()["error"]["message"]
    ok = await gateway.get(f"/api/voice/sessions?orgId={org}&createdFrom=2026-01-01T00:00:00Z", headers=admin)
    assert ok.status_code == 200


def failing_app() -> FastAPI:
    app = create_service_app(ServiceSettings(environment="test", json_logs=True), title="failing")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    return app


async def test_an_unexpected_error_is_a_500_on_a_connection_that_stays_open() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(failing_app(), log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        reader, writer = await asyncio.open_connection(*sock.getsockname())
        answers = []
        for path in ("/boom", "/healthz"):  # one connection, one request after the other
            writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            await writer.drain()
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
            length = next(int(line.split(":")[1]) for line in head.split("\r\n")
                          if line.lower().startswith("content-length"))
            answers.append((head.split()[1], await reader.readexactly(length)))
        writer.close()
    finally:
        server.should_exit = True
        await task
    assert answers[0][0] == "500" and b"internal_error" in answers[0][1]
    assert answers[1] == ("200", b'{"status":"ok"}')
