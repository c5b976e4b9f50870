"""The retention sweeper: at start and then periodically, removes records past their org's retention."""

import asyncio

import structlog

from transcript_svc import service
from transcript_svc.archive import Archive
from transcript_svc.settings import TranscriptSettings
from voice_shared.db import SessionMaker
from voice_shared.outbox import OutboxRelay
from voice_shared.periodic import every

log = structlog.get_logger()


class RetentionSweeper:
    def __init__(self, db: SessionMaker, archive: Archive, settings: TranscriptSettings, relay: OutboxRelay) -> None:
        self._db, self._archive, self._settings, self._relay = db, archive, settings, relay
        self._stopping = asyncio.Event()

    async def sweep(self) -> int:
        """Sweep until nothing is due; returns how many sessions' records went."""
        total = 0
        while removed := await service.sweep_once(self._db, self._archive, self._settings.data_retention_days,
                                                  self._settings.retention_sweep_batch):
            total += removed
            self._relay.wake()
        return total

    async def run(self) -> None:
        await every(self._settings.retention_sweep_seconds, self._stopping, self.sweep, "retention_sweep_failed")

    def stop(self) -> None:
        self._stopping.set()
