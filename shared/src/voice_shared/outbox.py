"""Transactional outbox (write events with the state change, relay them with confirms) and inbox.

Each service has ``outbox`` and ``inbox`` tables in its own schema (``outbox_ddl`` then
``outbox_lockdown_ddl``, run by its migrations). Neither is a tenant table: the relay and consumers
work across organisations. So that a query that forgets its tenant cannot read every org's events,
the application role may only insert into the inbox, and outbox rows are visible only to a
transaction that says it is the relay (``RELAY_SETTING``). That is defence in depth against a
mistake, not a privilege boundary: the role could set the flag.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from uuid import UUID

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from voice_shared.contracts import Envelope
from voice_shared.db import SessionMaker

log = structlog.get_logger()

Publish = Callable[[Envelope], Awaitable[None]]


def outbox_ddl(schema: str, app_role: str) -> list[str]:
    return [
        f"""CREATE TABLE {schema}.outbox (
            seq bigserial PRIMARY KEY,
            event_id uuid NOT NULL UNIQUE,
            event_type text NOT NULL,
            envelope jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            sent_at timestamptz
        )""",
        f"CREATE INDEX outbox_unsent ON {schema}.outbox (seq) WHERE sent_at IS NULL",
        f"""CREATE TABLE {schema}.inbox (
            consumer text NOT NULL,
            event_id uuid NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer, event_id)
        )""",
        f"GRANT SELECT, INSERT, UPDATE ON {schema}.outbox, {schema}.inbox TO {app_role}",
        f"GRANT USAGE ON SEQUENCE {schema}.outbox_seq_seq TO {app_role}",
    ]


RELAY_SETTING = "voice.outbox_relay"


def outbox_lockdown_ddl(schema: str, app_role: str) -> list[str]:
    """Row Level Security on the outbox (rows visible to the relay only) and an insert-only inbox."""
    return [
        f"REVOKE SELECT, UPDATE ON {schema}.inbox FROM {app_role}",
        f"ALTER TABLE {schema}.outbox ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {schema}.outbox FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY outbox_write ON {schema}.outbox FOR INSERT WITH CHECK (true)",
        f"CREATE POLICY outbox_relay ON {schema}.outbox USING (current_setting('{RELAY_SETTING}', true) = 'on')",
    ]


def outbox_unlock_ddl(schema: str, app_role: str) -> list[str]:
    """Undo ``outbox_lockdown_ddl`` (a migration's downgrade)."""
    return [
        f"DROP POLICY outbox_relay ON {schema}.outbox",
        f"DROP POLICY outbox_write ON {schema}.outbox",
        f"ALTER TABLE {schema}.outbox DISABLE ROW LEVEL SECURITY",
        f"GRANT SELECT, UPDATE ON {schema}.inbox TO {app_role}",
    ]


async def add_to_outbox(session: AsyncSession, schema: str, *envelopes: Envelope) -> None:
    """Queue events in the caller's transaction; the relay publishes them after commit."""
    for env in envelopes:
        await session.execute(
            text(
                f"INSERT INTO {schema}.outbox (event_id, event_type, envelope) "
                "VALUES (:id, :type, CAST(:body AS jsonb))"
            ),
            {"id": env.event_id, "type": env.type, "body": env.model_dump_json()},
        )


async def claim_inbox(session: AsyncSession, schema: str, consumer: str, event_id: UUID) -> bool:
    """Record that ``consumer`` handles ``event_id`` in this transaction; False for a duplicate."""
    row = await session.execute(
        text(
            f"INSERT INTO {schema}.inbox (consumer, event_id) VALUES (:c, :e) "
            "ON CONFLICT DO NOTHING RETURNING 1"
        ),
        {"c": consumer, "e": event_id},
    )
    return row.first() is not None


class OutboxRelay:
    """Publishes unsent outbox rows in order, marking each batch sent after the broker confirms.

    Rows are locked with ``FOR UPDATE SKIP LOCKED`` so several relays never publish the same row
    at once. A relay that dies after publishing and before marking leaves the rows unsent: they
    are published again, and consumers drop the duplicate through their inbox.
    """

    def __init__(
        self,
        sessions: SessionMaker,
        schema: str,
        publish: Publish,
        *,
        batch_size: int = 100,
        poll_seconds: float = 0.5,
    ) -> None:
        self._sessions = sessions
        self._schema = schema
        self._publish = publish
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._wakeup = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Ask the relay to look now rather than at its next poll."""
        self._wakeup.set()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were sent."""
        async with self._sessions() as session, session.begin():
            await session.execute(text("SELECT set_config(:name, 'on', true)"), {"name": RELAY_SETTING})
            rows = (
                await session.execute(
                    text(
                        f"SELECT seq, envelope FROM {self._schema}.outbox WHERE sent_at IS NULL "
                        "ORDER BY seq LIMIT :n FOR UPDATE SKIP LOCKED"
                    ),
                    {"n": self._batch_size},
                )
            ).all()
            for _, body in rows:
                payload = body if isinstance(body, dict) else json.loads(body)
                await self._publish(Envelope.model_validate(payload))
            if rows:
                await session.execute(
                    text(f"UPDATE {self._schema}.outbox SET sent_at = now() WHERE seq = ANY(:s)"),
                    {"s": [seq for seq, _ in rows]},
                )
            return len(rows)

    async def run(self) -> None:
        """Relay until ``stop``; errors are logged and retried with backoff, never dropped."""
        backoff = self._poll_seconds
        while not self._stopping:
            try:
                sent = await self.relay_once()
                backoff = self._poll_seconds
            except Exception:
                log.exception("outbox_relay_failed", schema=self._schema)
                sent = 0
                backoff = min(backoff * 2, 10.0)
            if sent == self._batch_size:
                continue
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=backoff)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
