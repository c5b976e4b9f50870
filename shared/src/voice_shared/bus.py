"""The bus topology, declared once: exchanges, every consumer's queue, and dead-lettering.

Ack policy (the same for every subscriber, applied by ``consume``): a handler's message is
acked only after its effects are committed; on an error it is rejected *with* requeue, which
counts toward the queue's ``x-delivery-limit``; past the limit RabbitMQ dead-letters it to
``<queue>.dlq`` (at-least-once). Poison messages therefore end in a DLQ, never vanish, and a
transient failure (database restart) is retried.
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from aio_pika.exceptions import DeliveryError
from faststream import AckPolicy
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitMessage,
    RabbitQueue,
)
from faststream.rabbit.schemas.queue import QuorumQueueArgs

from voice_shared.contracts import Envelope, Event, NegotiateWebRtc, WebRtcRefused, envelope
from voice_shared.settings import ServiceSettings

log = structlog.get_logger()


@dataclass(frozen=True)
class Subscription:
    """One consumer's durable queue for one purpose, bound to one routing-key pattern."""

    service: str
    purpose: str
    routing_key: str
    delivery_limit: int = 5
    prefetch: int = 16

    @property
    def consumer(self) -> str:
        """Stable consumer name for inbox deduplication (independent of the namespace)."""
        return f"{self.service}.{self.purpose}"

    def queue_name(self, namespace: str) -> str:
        return f"{namespace}.{self.service}.{self.purpose}"


# Every consumer of the platform. Adding a consumer means adding a line here.
SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription("session-svc", "bot-joined", "bot.joined"),
    Subscription("session-svc", "bot-finished", "bot.finished"),
    # Deletes the rooms of a session that reached a terminal state (the sweeper is the backstop).
    Subscription("session-svc", "room-cleanup", "session.ended"),
    # Stores every segment of the live transcript (a resuming bot reads them back).
    Subscription("transcript-svc", "segments", "transcript.segment"),
    # The bot job queue: each warm bot worker consumes one started session at a time and acks it
    # only when the interview is over, so a bot that dies hands its job to another (see
    # bot_orchestrator.worker.process). Few deliveries: a job that kills three bots is poison.
    Subscription("bot", "jobs", "session.started", delivery_limit=3, prefetch=1),
    # Keeps a bounded tail of every event and makes every published type routable, so a
    # return (which raises) means a broken topology, not an event nobody subscribes to yet.
    Subscription("platform", "audit", "#"),
)


def subscription(service: str, purpose: str) -> Subscription:
    return next(s for s in SUBSCRIPTIONS if (s.service, s.purpose) == (service, purpose))


def events_exchange(namespace: str) -> RabbitExchange:
    return RabbitExchange(f"{namespace}.events", type=ExchangeType.TOPIC, durable=True)


def dead_letter_exchange(namespace: str) -> RabbitExchange:
    return RabbitExchange(f"{namespace}.dlx", type=ExchangeType.DIRECT, durable=True)


def commands_exchange(namespace: str) -> RabbitExchange:
    """Commands that need an answer; direct, so a command nobody is bound to is returned at once."""
    return RabbitExchange(f"{namespace}.commands", type=ExchangeType.DIRECT, durable=True)


def queue(namespace: str, sub: Subscription) -> RabbitQueue:
    name = sub.queue_name(namespace)
    arguments: QuorumQueueArgs = {
        "x-delivery-limit": sub.delivery_limit,
        "x-dead-letter-exchange": dead_letter_exchange(namespace).name,
        "x-dead-letter-routing-key": name,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    if sub.service == "platform" and sub.purpose == "audit":
        # at-least-once dead-lettering needs reject-publish, so the tail is bounded by length
        # with the oldest dropped: the audit queue has no dead-lettering.
        arguments = {"x-delivery-limit": sub.delivery_limit, "x-max-length": 10_000,
                     "x-overflow": "drop-head"}
    return RabbitQueue(
        name, queue_type=QueueType.QUORUM, durable=True, arguments=arguments,
        routing_key=sub.routing_key,
    )


def dead_letter_queue(namespace: str, sub: Subscription) -> RabbitQueue:
    name = f"{sub.queue_name(namespace)}.dlq"
    return RabbitQueue(
        name, queue_type=QueueType.QUORUM, durable=True, routing_key=sub.queue_name(namespace)
    )


def make_broker(settings: ServiceSettings) -> RabbitBroker:
    """A broker whose publishes wait for confirms and raise when unroutable."""
    return RabbitBroker(
        settings.amqp_url,
        default_channel=Channel(publisher_confirms=True, on_return_raises=True),
        # FastStream's own lines (per message at DEBUG, failures at ERROR) go to this logger.
        logger=logging.getLogger("voice.bus"),
        log_level=logging.DEBUG,
        graceful_timeout=10.0,
    )


async def declare_topology(broker: RabbitBroker, namespace: str) -> None:
    """Declare exchanges, every consumer queue with its binding, and the dead-letter queues."""
    events = await broker.declare_exchange(events_exchange(namespace))
    dlx = await broker.declare_exchange(dead_letter_exchange(namespace))
    await broker.declare_exchange(commands_exchange(namespace))
    for sub in SUBSCRIPTIONS:
        q = await broker.declare_queue(queue(namespace, sub))
        await q.bind(events, routing_key=sub.routing_key)
        if sub.service != "platform":
            dlq = await broker.declare_queue(dead_letter_queue(namespace, sub))
            await dlq.bind(dlx, routing_key=sub.queue_name(namespace))


async def publish_envelope(broker: RabbitBroker, namespace: str, envelope: Envelope) -> None:
    """Publish one event; returns after the broker confirms, raises if it is unroutable."""
    await broker.publish(
        envelope.model_dump(mode="json"),
        exchange=events_exchange(namespace),
        routing_key=envelope.type,
        mandatory=True,
        persist=True,
        message_id=str(envelope.event_id),
        correlation_id=envelope.correlation_id or str(envelope.event_id),
        content_type="application/json",
        timeout=10.0,
    )


Handler = Callable[[Envelope], Awaitable[None]]


def consume(
    broker: RabbitBroker, namespace: str, sub: Subscription, *, dead_letters: bool = False
) -> Callable[[Handler], Any]:
    """Register ``handler(envelope)`` on the subscription's queue with the platform's ack policy.

    ``dead_letters``: on its dead-letter queue instead, for a consumer that settles what the
    subscription gave up on (a bot job past its delivery limit fails its session: ``bot_lost``).
    """
    source = dead_letter_queue(namespace, sub) if dead_letters else queue(namespace, sub)
    exchange = dead_letter_exchange(namespace) if dead_letters else events_exchange(namespace)

    def register(handler: Handler) -> Any:
        async def on_message(body: dict[str, Any], message: RabbitMessage) -> None:
            try:
                envelope = Envelope.model_validate(body)
            except ValueError:
                # Dead-lettered (or, from a dead-letter queue, dropped): it can never be handled.
                log.error("malformed_event_rejected", queue=source.name)
                await message.reject(requeue=False)
                return
            with structlog.contextvars.bound_contextvars(
                event_id=str(envelope.event_id),
                event_type=envelope.type,
                session_id=str(envelope.session_id) if envelope.session_id else None,
                correlation_id=envelope.correlation_id,
            ):
                try:
                    await handler(envelope)
                except Exception:
                    log.exception("event_handler_failed", queue=source.name)
                    await message.reject(requeue=True)
                    return
            await message.ack()

        # Named after the handler for FastStream's logs; not functools.wraps, which would make
        # FastStream inject arguments by the handler's signature instead of this one's.
        on_message.__name__ = on_message.__qualname__ = handler.__name__
        return broker.subscriber(
            source,
            exchange=exchange,
            channel=Channel(prefetch_count=sub.prefetch),
            ack_policy=AckPolicy.MANUAL,
            no_reply=True,
        )(on_message)

    return register


# --- request/reply: commands that need an answer -------------------------------------------------


def negotiate_routing_key(session_id: UUID) -> str:
    """Where a session's SDP offers go: only the bot serving that session binds this key."""
    return f"webrtc.negotiate.{session_id}"


def negotiate_queue(namespace: str, session_id: UUID) -> RabbitQueue:
    """The serving bot's queue of offers for one session.

    Exclusive and auto-deleted: it lives exactly as long as the bot's consumer, so once the bot
    stops serving (or dies) an offer is unroutable and the caller hears so at once; and a second
    bot cannot bind the same session while the first still serves it.
    """
    return RabbitQueue(
        f"{namespace}.webrtc.{session_id}", exclusive=True, auto_delete=True, durable=False,
        routing_key=negotiate_routing_key(session_id),
    )


class CommandUnroutable(Exception):
    """Nobody is bound to the command's routing key (e.g. no bot serves the session yet)."""


class CommandTimedOut(Exception):
    """The command was delivered but not answered in time."""


class CommandClient:
    """Sends commands and awaits their answers, many at once, on this process's own reply queue.

    FastStream's ``broker.request`` serialises every request of a broker behind one lock, so one
    slow bot would hold up every other caller's offer until it timed out. Here each request has
    its own correlation id and future; the answers arrive on an exclusive, auto-deleted queue
    consumed by an ordinary FastStream subscriber. Responders are plain FastStream subscribers
    whose return value FastStream publishes to ``reply_to`` (see ``serve_negotiation``).
    """

    def __init__(self, broker: RabbitBroker, namespace: str, owner: str) -> None:
        self._broker = broker
        self._exchange = commands_exchange(namespace)
        self._replies = RabbitQueue(
            f"{namespace}.{owner}.replies.{uuid.uuid4().hex}", exclusive=True, auto_delete=True,
            durable=False,
        )
        self._pending: dict[str, asyncio.Future[Envelope]] = {}

        async def on_command_reply(body: Any, message: RabbitMessage) -> None:
            future = self._pending.get(message.correlation_id or "")
            if future is None or future.done():
                log.info("late_command_reply_dropped", correlation_id=message.correlation_id)
                return
            try:
                future.set_result(Envelope.model_validate(body))
            except ValueError as e:
                future.set_exception(e)

        broker.subscriber(self._replies, ack_policy=AckPolicy.ACK_FIRST, no_reply=True)(on_command_reply)

    async def declare(self) -> None:
        """Declare the commands exchange (idempotent) once the broker is connected."""
        await self._broker.declare_exchange(self._exchange)

    async def request(self, command: Envelope, routing_key: str, timeout: float) -> Envelope:  # noqa: ASYNC109
        """Publish ``command`` (mandatory, expiring with ``timeout``) and return its answer.

        Raises ``CommandUnroutable`` at once when nobody is bound to ``routing_key`` and
        ``CommandTimedOut`` when the answer does not come within ``timeout`` seconds.
        """
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[Envelope] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        try:
            try:
                await self._broker.publish(
                    command.model_dump(mode="json"), exchange=self._exchange, routing_key=routing_key,
                    mandatory=True, reply_to=self._replies.name, correlation_id=correlation_id,
                    message_id=str(command.event_id), content_type="application/json",
                    # An offer nobody took in time is stale: the caller has given up on it.
                    expiration=timeout, timeout=timeout,
                )
            except DeliveryError as e:
                raise CommandUnroutable(routing_key) from e
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError as e:
                raise CommandTimedOut(routing_key) from e
        finally:
            self._pending.pop(correlation_id, None)


Negotiator = Callable[[NegotiateWebRtc, Envelope], Awaitable[Event]]


def serve_negotiation(broker: RabbitBroker, namespace: str, session_id: UUID, negotiate: Negotiator) -> Any:
    """Subscribe ``negotiate`` to one session's offers; the caller starts and stops the subscriber.

    What the bot does when it takes a session (``await sub.start()``) and when it lets it go
    (``await sub.stop()``, which deletes the queue). ``negotiate`` returns a ``WebRtcAnswered``
    or ``WebRtcRefused``; it goes back to the requester in an envelope. Not persistent in the
    broker: dropping the returned subscriber lets it be collected.
    """

    async def on_negotiate_webrtc(body: Any) -> dict[str, Any]:
        request: Envelope | None = None
        try:
            request = Envelope.model_validate(body)
            answer = await negotiate(NegotiateWebRtc.model_validate(request.payload), request)
        except Exception:
            # The caller hears a clear refusal now rather than a timeout later.
            log.exception("webrtc_negotiation_failed", session_id=str(session_id))
            answer = WebRtcRefused(session_id=session_id, code="bot_error",
                                   message="The interviewer could not answer the connection offer.")
        return envelope(
            answer, org_id=request.org_id if request else None, session_id=session_id,
            correlation_id=request.correlation_id if request else None,
        ).model_dump(mode="json")

    subscriber = broker.subscriber(
        negotiate_queue(namespace, session_id), exchange=commands_exchange(namespace),
        # An offer is worth answering once: if the bot dies mid-answer the caller times out.
        ack_policy=AckPolicy.ACK_FIRST, persistent=False,
    )
    subscriber(on_negotiate_webrtc)
    return subscriber
