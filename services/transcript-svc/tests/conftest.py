"""transcript-svc's test fixtures: the running service (consuming the
run's bus namespace), an HTTP client of it, and a publisher of segments over the real broker."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from transcript_svc.app import create_app
from transcript_svc.settings import TranscriptSettings
from voice_shared.bus import make_broker, publish_envelope
from voice_shared.contracts import Envelope, TranscriptSegment, envelope

Publish = Callable[[Envelope], Awaitable[None]]


@pytest.fixture(scope="session")
async def transcript_svc_app(  # type: ignore[no-untyped-def]
    platform_env: dict[str, str], topology
) -> AsyncIterator[FastAPI]:
    """transcript-svc with its lifespan running: its consumer takes the run's transcript.segment events."""
    app = create_app(TranscriptSettings(**platform_env))  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="session")
async def transcript_svc(transcript_svc_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of transcript-svc's internal API, in process."""
    transport = httpx.ASGITransport(app=transcript_svc_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://transcript-svc") as client:
        yield client


@pytest.fixture(scope="session")
async def publish(base_settings, topology) -> AsyncIterator[Publish]:  # type: ignore[no-untyped-def]
    """``await publish(envelope)``: one event on the run's exchange, confirmed by the broker."""
    broker = make_broker(base_settings)
    await broker.connect()

    async def send(env: Envelope) -> None:
        await publish_envelope(broker, base_settings.bus_namespace, env)

    yield send
    await broker.stop()


SegmentEvent = Callable[..., Envelope]


@pytest.fixture(scope="session")
def segment_event() -> SegmentEvent:
    """``segment_event(org_id, session_id, sequence, **fields)``: a transcript.segment envelope with a
    fresh event id, as the bot publishes it; ``fields`` override the segment's."""

    def make(org_id: UUID | None, session_id: UUID, sequence: int, **fields: Any) -> Envelope:
        values: dict[str, Any] = {
            "speaker": "candidate" if sequence % 2 else "bot", "text": f"utterance {sequence}",
            "start_ms": 1000 * sequence, "end_ms": 1000 * sequence + 800,
        }
        segment = TranscriptSegment(session_id=session_id, sequence=sequence, **{**values, **fields})
        return envelope(segment, org_id=org_id, session_id=session_id, correlation_id=uuid.uuid4().hex)

    return make
