"""The bus topology, declared once: exchanges, every consumer's queue, and dead-lettering.

Ack policy (the same for every subscriber, applied by ``consume``): a handler's message is
acked only after its effects are committed; on an error it is rejected *with* requeue, which
counts toward the queue's ``x-delivery-limit``; past the limit RabbitMQ dead-letters it to
``<queue>.dlq`` (at-least-once). Poison messages therefore end in a DLQ, never vanish, and a
transient failure (database restart) is retried.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
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

from voice_shared.contracts import Envelope
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


def queue(namespace: str, sub: Subscription) -> RabbitQueue:
    name = sub.queue_name(namespace)
    arguments: dict[str, Any] = {
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


def consume(broker: RabbitBroker, namespace: str, sub: Subscription) -> Callable[[Handler], Any]:
    """Register ``handler(envelope)`` on the subscription's queue with the platform's ack policy."""

    def register(handler: Handler) -> Any:
        async def on_message(body: dict[str, Any], message: RabbitMessage) -> None:
            try:
                envelope = Envelope.model_validate(body)
            except ValueError:
                log.error("malformed_event_dead_lettered", queue=sub.queue_name(namespace))
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
                    log.exception("event_handler_failed", queue=sub.queue_name(namespace))
                    await message.reject(requeue=True)
                    return
            await message.ack()

        # Named after the handler for FastStream's logs; not functools.wraps, which would make
        # FastStream inject arguments by the handler's signature instead of this one's.
        on_message.__name__ = on_message.__qualname__ = handler.__name__
        return broker.subscriber(
            queue(namespace, sub),
            exchange=events_exchange(namespace),
            channel=Channel(prefetch_count=sub.prefetch),
            ack_policy=AckPolicy.MANUAL,
            no_reply=True,
        )(on_message)

    return register
