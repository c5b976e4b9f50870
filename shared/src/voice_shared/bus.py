"""The bus topology, declared once: exchanges, every consumer's queue, and dead-lettering.

Ack policy (the same for every subscriber, applied by ``consume``): a handler's message is
acked only after its effects are committed; on an error it is rejected *with* requeue, which
counts toward the queue's ``x-delivery-limit``; past the limit RabbitMQ dead-letters it to
``<queue>.dlq`` (at-least-once). Poison messages therefore end in a DLQ, never vanish, and a
transient failure (database restart) is retried.
"""

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import aio_pika
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
from pydantic import ValidationError

from voice_shared.contracts import Envelope, Event, NegotiateWebRtc, WebRtcRefused, envelope
from voice_shared.contracts.envelope import clean_correlation_id
from voice_shared.errors import ServiceUnavailable
from voice_shared.settings import ServiceSettings

log = structlog.get_logger()

E = TypeVar("E", bound=Event)

# Headers of a message the platform dead-lettered itself: why, and from which queue.
REASON_HEADER = "x-voice-dead-letter-reason"
SOURCE_HEADER = "x-voice-dead-letter-queue"
DEAD_LETTER_DELIVERY_LIMIT = 5


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
    # A bot let a dispatched session go (the candidate never connected): the candidate may start again.
    Subscription("session-svc", "bot-released", "bot.released"),
    # The newest revision of each session's transcript, for the list of transcripts; and its removal.
    Subscription("session-svc", "transcripts", "transcript.completed"),
    Subscription("session-svc", "transcripts-deleted", "transcript.deleted"),
    Subscription("session-svc", "analytics", "analytics.completed"),
    Subscription("session-svc", "analytics-reviewed", "analytics.reviewed"),
    # Deletes the rooms of a session that reached a terminal state (the sweeper is the backstop).
    Subscription("session-svc", "room-cleanup", "session.ended"),
    # Stores every segment of the live transcript (a resuming bot reads them back).
    Subscription("transcript-svc", "segments", "transcript.segment"),
    # Finalises the session's transcript (exactly once; later segments make new revisions).
    Subscription("transcript-svc", "finalise", "session.ended"),
    # Where each session's audio recording is stored (the bot made it).
    Subscription("transcript-svc", "recordings", "recording.completed"),
    # Each org's retention days, for the sweeper that deletes expired records.
    Subscription("transcript-svc", "retention", "org.settings_updated"),
    # Scores each final transcript (and each later revision) against its config's rubric.
    Subscription("analytics-svc", "score", "transcript.completed", prefetch=4),
    # Deletes what was scored from a transcript that was deleted (by an admin, retention or erasure).
    Subscription("analytics-svc", "forget", "transcript.deleted"),
    # The bot job queue: each warm bot worker consumes one dispatched session (the candidate pressed
    # Start) at a time and acks it only when the interview is over, so a bot that dies hands its job
    # to another (see bot_orchestrator.worker.process). Few deliveries: a job that kills three bots is poison.
    Subscription("bot", "jobs", "session.dispatched", delivery_limit=3, prefetch=1),
    # The warm pool: every bot's state from its heartbeats, every session from dispatch to a bot (the
    # queue), and when a bot joined, let go of or finished a session.
    Subscription("bot-orchestrator", "heartbeats", "bot.heartbeat", prefetch=16),
    Subscription("bot-orchestrator", "dispatches", "session.dispatched"),
    Subscription("bot-orchestrator", "joined", "bot.joined"),
    Subscription("bot-orchestrator", "released", "bot.released"),
    Subscription("bot-orchestrator", "sessions-ended", "session.ended"),
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


def _dead_lettering(namespace: str, target: str) -> QuorumQueueArgs:
    return {
        "x-dead-letter-exchange": dead_letter_exchange(namespace).name,
        "x-dead-letter-routing-key": target,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def queue(namespace: str, sub: Subscription) -> RabbitQueue:
    name = sub.queue_name(namespace)
    arguments: QuorumQueueArgs = {"x-delivery-limit": sub.delivery_limit, **_dead_lettering(namespace, name)}
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
    """Where a subscription's messages go past their delivery limit or when undecodable.

    It has a delivery limit too: a dead-letter consumer that keeps failing on a message parks it.
    """
    name = f"{sub.queue_name(namespace)}.dlq"
    arguments: QuorumQueueArgs = {
        "x-delivery-limit": DEAD_LETTER_DELIVERY_LIMIT, **_dead_lettering(namespace, parked_queue(namespace).name)
    }
    return RabbitQueue(
        name, queue_type=QueueType.QUORUM, durable=True, arguments=arguments,
        routing_key=sub.queue_name(namespace),
    )


def parked_queue(namespace: str) -> RabbitQueue:
    """The end of the line: what even a dead-letter consumer could not settle, kept for an operator.

    Nothing consumes it; its delivery limit (with nowhere further to go) only bounds an operator's
    tool that keeps rejecting the same message.
    """
    name = f"{namespace}.parked"
    return RabbitQueue(
        name, queue_type=QueueType.QUORUM, durable=True, routing_key=name,
        arguments={"x-delivery-limit": DEAD_LETTER_DELIVERY_LIMIT},
    )


def topology(namespace: str) -> list[tuple[RabbitQueue, RabbitExchange]]:
    """Every durable queue of a namespace with the exchange it is bound to."""
    events, dlx = events_exchange(namespace), dead_letter_exchange(namespace)
    bound = [(queue(namespace, sub), events) for sub in SUBSCRIPTIONS]
    bound += [(dead_letter_queue(namespace, sub), dlx) for sub in SUBSCRIPTIONS if sub.service != "platform"]
    return [*bound, (parked_queue(namespace), dlx)]


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
    exchanges = {}
    for exchange in (events_exchange(namespace), dead_letter_exchange(namespace), commands_exchange(namespace)):
        exchanges[exchange.name] = await broker.declare_exchange(exchange)
    for q, exchange in topology(namespace):
        declared = await broker.declare_queue(q)
        await declared.bind(exchanges[exchange.name], routing_key=q.routing_key)


async def replace_outdated_queues(amqp_url: str, namespace: str) -> list[str]:
    """Delete the namespace's empty queues whose arguments changed, so ``declare_topology`` makes them anew.

    RabbitMQ refuses to redeclare a queue with other arguments (dead-letter queues gained a delivery
    limit, say). An empty one is safe to replace; one holding messages is left for an operator, with
    an error that says so. Returns the names of the queues replaced.
    """
    from aiormq.exceptions import ChannelPreconditionFailed

    replaced = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for q, _ in topology(namespace):
            channel = await connection.channel()
            try:
                await channel.declare_queue(q.name, durable=q.durable, arguments=q.arguments)
                await channel.close()
                continue
            except ChannelPreconditionFailed:
                pass  # the failure closed that channel
            channel = await connection.channel()
            existing = await channel.declare_queue(q.name, passive=True)
            if existing.declaration_result.message_count:
                raise RuntimeError(
                    f"queue {q.name} was declared with other arguments and holds "
                    f"{existing.declaration_result.message_count} messages: move or drain them, delete the "
                    "queue, and declare again")
            await channel.queue_delete(q.name)
            await channel.close()
            replaced.append(q.name)
    return replaced


async def delete_topology(amqp_url: str, namespace: str) -> None:
    """Delete every queue and exchange of a namespace (tests and throwaway stacks)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for q, _ in topology(namespace):
            await channel.queue_delete(q.name)
        for exchange in (events_exchange(namespace), dead_letter_exchange(namespace), commands_exchange(namespace)):
            await channel.exchange_delete(exchange.name)


async def publish_envelope(broker: RabbitBroker, namespace: str, envelope: Envelope) -> None:
    """Publish one event; returns after the broker confirms, raises if it is unroutable."""
    await broker.publish(
        envelope.model_dump(mode="json"),
        exchange=events_exchange(namespace),
        routing_key=envelope.type,
        mandatory=True,
        persist=True,
        message_id=str(envelope.event_id),
        # Cleaned again: an outbox row written before ids were cleaned must not stop the relay.
        correlation_id=clean_correlation_id(envelope.correlation_id) or str(envelope.event_id),
        content_type="application/json",
        timeout=10.0,
    )


Handler = Callable[[E, Envelope], Awaitable[None]]
JobHandler = Callable[[E, Envelope, RabbitMessage], Awaitable[None]]


class Undecodable(Exception):
    """A message that can never be handled (not JSON, not an envelope, fails its contract)."""


def decode(body: bytes, contract: type[E], *, org_required: bool = True) -> tuple[E, Envelope]:
    """The contract and envelope a message body holds; ``Undecodable`` says what is wrong with it.

    An event without an org is undecodable when the consumer needs one (every tenant event does):
    it is dead-lettered like any other broken message, never silently dropped.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Undecodable(f"not JSON: {e}") from None
    try:
        env = Envelope.model_validate(data)
    except ValidationError as e:
        raise Undecodable(f"not an event envelope: {_first_error(e)}") from None
    if (env.type, env.version) != (contract.type, contract.version):
        raise Undecodable(f"expected {contract.type} v{contract.version}, got {env.type} v{env.version}")
    if org_required and env.org_id is None:
        raise Undecodable(f"{env.type} has no org_id")
    try:
        return contract.model_validate(env.payload), env
    except ValidationError as e:
        raise Undecodable(f"payload fails the {contract.type} contract: {_first_error(e)}") from None


def _first_error(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']} ({e.error_count()} error(s))"[:500]


async def _raw_body(message: RabbitMessage) -> bytes:
    """FastStream's decoder for our subscribers: the bytes as sent, decoded by ``decode``."""
    return message.body


async def dead_letter(
    broker: RabbitBroker, namespace: str, message: RabbitMessage, source: str, reason: str, target: str
) -> None:
    """Move ``message`` to the dead-letter queue ``target`` with ``reason`` in its headers, then ack it.

    Published (with confirms) before the ack, so a crash in between leaves a duplicate, not a loss.
    If even that publish fails, the message is rejected: RabbitMQ dead-letters it without the reason.
    """
    log.error("message_dead_lettered", queue=source, reason=reason, message_id=message.message_id)
    raw = message.raw_message
    headers = {**(raw.headers or {}), REASON_HEADER: reason, SOURCE_HEADER: source}
    try:
        await broker.publish(
            message.body, exchange=dead_letter_exchange(namespace), routing_key=target, mandatory=True,
            persist=True, headers=headers, message_id=message.message_id, content_type=raw.content_type,
            correlation_id=message.correlation_id, timeout=10.0,
        )
    except Exception as e:  # any failure here falls back to the broker's own dead-lettering
        log.warning("dead_letter_publish_failed", queue=source, error=f"{type(e).__name__}: {e}")
        await message.reject(requeue=False)
        return
    await message.ack()


def consume(
    broker: RabbitBroker, namespace: str, sub: Subscription, contract: type[E], *,
    dead_letters: bool = False, org_required: bool = True,
) -> Callable[[Handler[E]], Any]:
    """Register ``handler(event, envelope)`` on the subscription's queue: the one consume path.

    Decode and validate first: what cannot be decoded or fails ``contract`` is dead-lettered at
    once with the reason (``dead_letter``). Then the handler runs; the message is acked after it
    returns (its transaction has committed) and rejected with requeue if it raises, which counts
    toward the delivery limit, past which RabbitMQ dead-letters it.

    ``dead_letters``: on the subscription's dead-letter queue instead, for a consumer that settles
    what the subscription gave up on (a bot job past its delivery limit fails its session); what
    it cannot decode is parked (``parked_queue``).
    """
    if dead_letters:
        source, exchange = dead_letter_queue(namespace, sub), dead_letter_exchange(namespace)
        target = parked_queue(namespace).name
    else:
        source, exchange = queue(namespace, sub), events_exchange(namespace)
        target = source.name

    def register(handler: Handler[E]) -> Any:
        return _subscribe(broker, namespace, source, exchange, target, contract,
                          _acking(handler, requeue_on_error=True), handler.__name__,
                          prefetch=sub.prefetch, org_required=org_required)

    return register


def consume_jobs(
    broker: RabbitBroker, namespace: str, sub: Subscription, contract: type[E]
) -> Callable[[JobHandler[E]], Any]:
    """Like ``consume``, but ``handler(event, envelope, message)`` settles the message itself.

    For the bot job queue, where a job is acked only when its interview is over. Returns the
    subscriber, which the caller stops when it stops taking jobs.
    """
    source = queue(namespace, sub)

    def register(handler: JobHandler[E]) -> Any:
        return _subscribe(broker, namespace, source, events_exchange(namespace), source.name, contract,
                          handler, handler.__name__, prefetch=sub.prefetch)

    return register


def instance_queue(namespace: str, owner: str, routing_key: str) -> RabbitQueue:
    """A queue of one process's own (exclusive, deleted with its connection), e.g. to be told of events.

    Not quorum (exclusive queues cannot be), so no delivery limit: ``consume_instance`` never
    requeues; what it rejects goes to the parked queue.
    """
    return RabbitQueue(
        f"{namespace}.{owner}.{uuid.uuid4().hex}", exclusive=True, auto_delete=True, durable=False,
        routing_key=routing_key,
        arguments={"x-dead-letter-exchange": dead_letter_exchange(namespace).name,
                   "x-dead-letter-routing-key": parked_queue(namespace).name},
    )


def consume_instance(
    broker: RabbitBroker, namespace: str, owner: str, contract: type[E], *, org_required: bool = True,
    prefetch: int = 16,
) -> Callable[[Handler[E]], Any]:
    """Register ``handler(event, envelope)`` on an ``instance_queue`` bound to the contract's type.

    For notifications a process needs while it lives (a bot told its session ended): the handler's
    failure is logged and the message parked, never redelivered in a loop.
    """
    source = instance_queue(namespace, owner, contract.type)
    target = parked_queue(namespace).name

    def register(handler: Handler[E]) -> Any:
        return _subscribe(broker, namespace, source, events_exchange(namespace), target, contract,
                          _acking(handler, requeue_on_error=False), handler.__name__,
                          prefetch=prefetch, org_required=org_required)

    return register


def _acking(handler: Handler[E], *, requeue_on_error: bool) -> JobHandler[E]:
    """Ack after ``handler`` returns; reject (requeued or not) when it raises."""

    async def settle(event: E, env: Envelope, message: RabbitMessage) -> None:
        try:
            await handler(event, env)
        except Exception:
            log.exception("event_handler_failed")
            await message.reject(requeue=requeue_on_error)
            return
        await message.ack()

    return settle


def _subscribe(
    broker: RabbitBroker, namespace: str, source: RabbitQueue, exchange: RabbitExchange, target: str,
    contract: type[E], handle: JobHandler[E], name: str, *, prefetch: int, org_required: bool = True,
) -> Any:
    """Subscribe ``handle`` to ``source`` behind ``decode``; what fails it is dead-lettered to ``target``."""

    async def on_message(body: bytes, message: RabbitMessage) -> None:
        try:
            event, env = decode(body, contract, org_required=org_required)
        except Undecodable as e:
            await dead_letter(broker, namespace, message, source.name, str(e), target)
            return
        with structlog.contextvars.bound_contextvars(
            event_id=str(env.event_id),
            event_type=env.type,
            session_id=str(env.session_id) if env.session_id else None,
            correlation_id=env.correlation_id,
            queue=source.name,
        ):
            await handle(event, env, message)

    # Named after the handler for FastStream's logs; not functools.wraps, which would make
    # FastStream inject arguments by the handler's signature instead of this one's.
    on_message.__name__ = on_message.__qualname__ = name
    subscriber = broker.subscriber(
        source,
        exchange=exchange,
        channel=Channel(prefetch_count=prefetch),
        ack_policy=AckPolicy.MANUAL,
        no_reply=True,
    )
    subscriber(on_message, decoder=_raw_body)
    return subscriber


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


class BusUnavailable(ServiceUnavailable):
    code = "bus_unavailable"


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
            except Exception as e:  # a broker that is down or reconnecting: the caller may retry
                log.warning("command_publish_failed", routing_key=routing_key, error=f"{type(e).__name__}: {e}")
                raise BusUnavailable("The message bus did not take the request; try again shortly.",
                                     details={"retryable": True}) from e
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
