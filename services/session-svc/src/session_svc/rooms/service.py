"""Room lifecycle: provisioned when a session starts, deleted on every terminal state, swept.

The provider is never called inside a transaction that holds the session: a start reserves a
room row (``url`` still empty) and commits, asks the provider, then records the room and moves
the session in a second transaction (``session_svc.service.start_session``). Every row is a
promise to delete: ``session.ended`` deletes a session's rooms at once, and the sweeper deletes
whatever is left (rooms of terminal, deleted or expired sessions, and rooms a retried start has
replaced), so neither a failed call nor a crash leaves a room behind.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

import httpx
import structlog
from sqlalchemy import func, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from session_svc.models import VoiceConfigVersion, VoiceRoom, VoiceSession
from session_svc.rooms.daily import DailyRooms
from session_svc.rooms.local import LocalRooms
from session_svc.rooms.ports import ProvisionedRoom, Recording, RoomProvider, RoomSpec, room_name
from session_svc.settings import SessionSettings
from voice_shared.api.configs import InterviewDefinition
from voice_shared.api.rooms import RoomAccess, RoomPublic
from voice_shared.contracts import SessionStatus
from voice_shared.db import SessionMaker, transaction
from voice_shared.errors import Conflict
from voice_shared.periodic import every

log = structlog.get_logger()

SecretResolver = Callable[[SessionMaker, UUID, str, SessionSettings], Awaitable[str]]
Participant = Literal["bot", "candidate", "observer"]


async def credential_secret(db: SessionMaker, org_id: UUID, service: str, settings: SessionSettings) -> str:
    """The org's (else the platform's) key for ``service``, from the credentials module."""
    from session_svc.credentials.resolve import resolve_secret  # only Daily rooms need a key

    return await resolve_secret(db, org_id, service, settings)


@dataclass(frozen=True)
class Reservation:
    """A room row written before the provider is asked, so a crash mid-call still leaves a record."""

    room_id: UUID
    provider: str
    spec: RoomSpec


async def current_room(tx: AsyncSession, session_id: UUID) -> VoiceRoom | None:
    """The session's newest provisioned room that is neither deleted nor expired."""
    r = VoiceRoom
    return (await tx.execute(
        select(r).where(
            col(r.session_id) == session_id, col(r.url).is_not(None), col(r.deleted_at).is_(None),
            col(r.expires_at) > func.now(),
        ).order_by(col(r.created_at).desc(), col(r.id).desc()).limit(1)
    )).scalar_one_or_none()


def room_public(room: VoiceRoom | None) -> RoomPublic | None:
    if room is None or room.url is None:
        return None
    return RoomPublic(provider=room.provider, name=room.name, url=room.url,  # type: ignore[arg-type]
                      expires_at=room.expires_at)


class Rooms:
    """Provisions, hands out and deletes rooms through the adapter each room was made with."""

    def __init__(
        self, db: SessionMaker, settings: SessionSettings, *, secrets: SecretResolver | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._secrets = secrets or credential_secret
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=settings.provider_timeout_seconds)
        self._local = LocalRooms(settings.public_url)
        self._stopping = asyncio.Event()

    async def provider(self, org_id: UUID, name: str) -> RoomProvider:
        if name == LocalRooms.name:
            return self._local
        s = self._settings
        key = await self._secrets(self._db, org_id, "daily", s)
        return DailyRooms(
            f"{s.daily_api_url.rstrip('/')}/v1", key, self._http, max_attempts=s.daily_max_attempts,
            backoff_seconds=s.daily_backoff_seconds, backoff_max_seconds=s.daily_backoff_max_seconds,
        )

    # --- start ---------------------------------------------------------------------------------

    async def reserve(
        self, tx: AsyncSession, session: VoiceSession, transport: str, join_deadline: datetime,
        max_duration_minutes: int, recording: Recording,
    ) -> Reservation:
        """Write the row of a fresh room (in the caller's transaction, which holds the session), open
        until an interview started at the join deadline is over."""
        now = datetime.now(UTC)
        r = VoiceRoom
        pending = (await tx.execute(select(r.id).where(
            col(r.session_id) == session.id, col(r.url).is_(None), col(r.deleted_at).is_(None),
            col(r.last_error).is_(None),  # a failed start is not in progress
            col(r.created_at) > now - timedelta(seconds=self._settings.room_provision_timeout_seconds),
        ))).first()
        if pending is not None:
            raise Conflict("This session is already being started: its room is being provisioned.",
                           code="start_in_progress")
        attempt = (await tx.execute(select(func.count()).where(col(r.session_id) == session.id))).scalar_one() + 1
        expires_at = join_deadline + timedelta(minutes=max_duration_minutes + self._settings.room_margin_minutes)
        spec = RoomSpec(
            org_id=session.org_id, session_id=session.id, name=room_name(session.id, attempt),
            expires_at=expires_at, max_participants=self._settings.room_max_participants, recording=recording,
        )
        row = VoiceRoom(id=uuid.uuid4(), org_id=session.org_id, session_id=session.id, provider=transport,
                        name=spec.name, expires_at=expires_at, created_at=now)
        tx.add(row)
        await tx.flush()
        return Reservation(room_id=row.id, provider=transport, spec=spec)

    async def provision(self, reservation: Reservation) -> ProvisionedRoom:
        """Ask the provider for the reserved room (no transaction is open here)."""
        provider = await self.provider(reservation.spec.org_id, reservation.provider)
        room = await provider.create_room(reservation.spec)
        log.info("room_provisioned", session_id=str(reservation.spec.session_id), room=room.name,
                 provider=reservation.provider)
        return room

    async def attach(self, tx: AsyncSession, reservation: Reservation, room: ProvisionedRoom) -> VoiceRoom:
        """Record the provisioned room. It is live again even if a cleanup ran meanwhile (that
        cleanup saw no room at the provider), so the session's next cleanup deletes it for real."""
        row = await self._row(tx, reservation.room_id)
        row.url, row.deleted_at, row.last_error = room.url, None, None
        tx.add(row)
        return row

    async def record_failure(self, tx: AsyncSession, reservation: Reservation, reason: str) -> None:
        row = await self._row(tx, reservation.room_id)
        row.last_error = reason[:1000]
        tx.add(row)

    @staticmethod
    async def _row(tx: AsyncSession, room_id: UUID) -> VoiceRoom:
        return (await tx.execute(select(VoiceRoom).where(col(VoiceRoom.id) == room_id).with_for_update())).scalar_one()

    # --- participants ----------------------------------------------------------------------------

    async def access(self, org_id: UUID, session_id: UUID, participant: Participant) -> RoomAccess | None:
        """The session's live room and this participant's token (owner for the bot), or None."""
        async with transaction(self._db, org_id) as tx:
            room = await current_room(tx, session_id)
            session = await tx.get(VoiceSession, session_id)
            if (room is None or room.url is None or session is None or session.deleted_at is not None
                    or not SessionStatus(session.status).live):
                return None
            version = await tx.get(VoiceConfigVersion, (session.config_id, session.config_version))
        definition = InterviewDefinition.model_validate(version.definition) if version else None
        names = {"bot": definition.bot_name if definition else "Interviewer",
                 "candidate": session.candidate_name, "observer": "Observer"}
        provider = await self.provider(org_id, room.provider)
        token = await provider.meeting_token(
            room.name, owner=participant == "bot", user_name=names[participant], expires_at=room.expires_at,
            start_recording=participant == "bot" and definition is not None
            and definition.providers.recording == "cloud",
        )
        return RoomAccess(provider=room.provider, name=room.name, url=room.url,  # type: ignore[arg-type]
                          expires_at=room.expires_at, token=token)

    # --- deletion --------------------------------------------------------------------------------

    async def release_session(self, org_id: UUID, session_id: UUID) -> None:
        """Delete every room of the session that is not deleted yet (failures stay for the sweeper)."""
        async with transaction(self._db, org_id) as tx:
            ids = (await tx.execute(select(VoiceRoom.id).where(
                col(VoiceRoom.session_id) == session_id, col(VoiceRoom.deleted_at).is_(None),
            ))).scalars().all()
        for room_id in ids:
            await self.delete(org_id, room_id)

    async def delete(self, org_id: UUID, room_id: UUID) -> bool:
        """Delete one room at its provider and mark it; False if it failed (counted, for the sweeper).

        No lock or transaction is held during the provider call: deleting is idempotent, so two
        instances deleting the same room is harmless. The row is marked deleted only if it still
        shows the room that was deleted: a start that recorded its room meanwhile (the call saw
        no room yet) keeps it live for the next cleanup.
        """
        async with transaction(self._db, org_id) as tx:
            room = (await tx.execute(select(VoiceRoom).where(
                col(VoiceRoom.id) == room_id, col(VoiceRoom.deleted_at).is_(None),
            ))).scalar_one_or_none()
        if room is None:
            return False
        r = VoiceRoom
        still = [col(r.id) == room_id, col(r.deleted_at).is_(None)]
        try:
            provider = await self.provider(org_id, room.provider)
            await provider.delete_room(room.name)
        except Exception as e:  # any failure is recorded on the row and retried by the sweeper
            error = (getattr(e, "message", None) or f"{type(e).__name__}: {e}")[:1000]
            async with transaction(self._db, org_id) as tx:
                await tx.execute(update(r).where(*still).values(
                    delete_attempts=col(r.delete_attempts) + 1, last_error=error))
            log.warning("room_delete_failed", room=room.name, provider=room.provider, error=error)
            return False
        same_room = col(r.url).is_(None) if room.url is None else col(r.url) == room.url
        async with transaction(self._db, org_id) as tx:
            marked = (await tx.execute(
                update(r).where(*still, same_room).values(deleted_at=func.now()).returning(col(r.id))
            )).first()
        if marked is not None:
            log.info("room_deleted", room=room.name, provider=room.provider, session_id=str(room.session_id))
        return marked is not None

    # --- sweeper ---------------------------------------------------------------------------------

    async def sweep_once(self) -> int:
        """Delete rooms of terminal, deleted or expired sessions and rooms replaced by a retried start."""
        schema = self._settings.db_schema
        async with transaction(self._db) as tx:
            due = (await tx.execute(text(f"SELECT org_id, room_id FROM {schema}.rooms_to_sweep(:n)"),
                                    {"n": self._settings.room_sweep_batch})).all()
        deleted = 0
        for org_id, room_id in due:
            deleted += await self.delete(org_id, room_id)
        if due:
            log.info("rooms_swept", due=len(due), deleted=deleted)
        return deleted

    async def run_sweeper(self) -> None:
        """Sweep at once (a crash may have left rooms), then every ``room_sweep_seconds``."""
        await every(self._settings.room_sweep_seconds, self._stopping, self.sweep_once, "room_sweep_failed")

    def stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        if self._own_http:
            await self._http.aclose()
