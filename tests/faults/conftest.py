"""The fault suite's tools: raw messages on the run's bus, dead-letter queues read back, and the
report table `make chaos` prints (scenario, events sent, lost, duplicated, recovery time)."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import pytest

from voice_shared.settings import ServiceSettings
from voice_shared.testing import auth, config_body, session_body


class RawBus:
    """The run's namespace as a stranger on the broker sees it: bytes in, messages out."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel, namespace: str) -> None:
        self.channel = channel
        self.namespace = namespace

    async def publish(self, body: bytes, routing_key: str, *, exchange: str = "events",
                      content_type: str = "application/json") -> str:
        """Publish ``body`` as is; returns its message id."""
        message_id = uuid.uuid4().hex
        target = await self.channel.get_exchange(f"{self.namespace}.{exchange}")
        await target.publish(aio_pika.Message(body, message_id=message_id, content_type=content_type,
                                              delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                             routing_key=routing_key, mandatory=True)
        return message_id

    async def take(self, queue: str, message_ids: set[str], timeout: float = 20.0  # noqa: ASYNC109
                   ) -> dict[str, aio_pika.abc.AbstractIncomingMessage]:
        """Take the messages with these ids off ``queue`` (acked); others are put back."""
        declared = await self.channel.declare_queue(queue, passive=True)
        found: dict[str, aio_pika.abc.AbstractIncomingMessage] = {}
        others = []
        deadline = asyncio.get_running_loop().time() + timeout
        while len(found) < len(message_ids) and asyncio.get_running_loop().time() < deadline:
            message = await declared.get(no_ack=False, fail=False)
            if message is None:
                await asyncio.sleep(0.1)
            elif message.message_id in message_ids:
                found[message.message_id] = message
                await message.ack()
            else:
                others.append(message)
        for message in others:
            await message.nack(requeue=True)
        return found

    async def depth(self, queue: str) -> int:
        """Messages ready in ``queue`` (not counting those delivered and unacked)."""
        declared = await self.channel.declare_queue(queue, passive=True)
        return declared.declaration_result.message_count or 0


@pytest.fixture
async def raw_bus(base_settings: ServiceSettings, topology: None) -> AsyncIterator[RawBus]:
    connection = await aio_pika.connect(base_settings.amqp_url)
    async with connection:
        yield RawBus(await connection.channel(publisher_confirms=True), base_settings.bus_namespace)


Started = tuple[str, str, dict[str, str]]


@pytest.fixture
def started_session(gateway: Any, token: Any, event_log: Any) -> Callable[[], Awaitable[Started]]:
    """``org, session_id, admin_headers = await started_session()``: a started session of a new org."""

    async def start() -> Started:
        org = str(uuid.uuid4())
        admin = auth(token(org, "org_admin"))
        config = (await gateway.post(f"/api/voice/configs?orgId={org}", json=config_body(), headers=admin)).json()
        session = (await gateway.post(f"/api/voice/sessions?orgId={org}", json=session_body(config["id"]),
                                      headers=admin)).json()
        started = await gateway.post(f"/api/voice/sessions/{session['id']}/start?orgId={org}", headers=admin)
        assert started.status_code == 200, started.text
        await event_log.wait_for(session["id"], "session.started")
        return org, session["id"], admin

    return start
