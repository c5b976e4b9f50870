"""transcript-svc's app factory: health and metrics answer without any dependency."""

import httpx

from transcript_svc.app import create_app
from transcript_svc.settings import TranscriptSettings


async def test_health_and_metrics_answer() -> None:
    app = create_app(TranscriptSettings(environment="test", json_logs=True))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://transcript-svc") as client:
        health = await client.get("/healthz")
        metrics = await client.get("/metrics")

    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert metrics.status_code == 200 and "http_requests_total" in metrics.text
