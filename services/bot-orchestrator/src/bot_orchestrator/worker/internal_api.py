"""The bot's view of the internal APIs (voice_shared.internal_api): its identity, and the session's
knowledge bases as the engine's passage source."""

from collections.abc import Callable, Sequence
from uuid import UUID

from bot_orchestrator.engine import Passage
from bot_orchestrator.worker.settings import BotSettings
from voice_shared.internal_api import SessionApi, TranscriptApi, token_source


def bot_token(settings: BotSettings) -> Callable[[], str]:
    return token_source(settings, settings.bot_id, "bot")


def session_api(settings: BotSettings) -> SessionApi:
    return SessionApi.connect(settings.session_svc_url, settings, bot_token(settings))


def transcript_api(settings: BotSettings) -> TranscriptApi:
    return TranscriptApi.connect(settings.transcript_svc_url, settings, bot_token(settings))


class SessionPassages:
    """The engine's passage source over the session's enabled knowledge bases."""

    def __init__(self, api: SessionApi, org_id: UUID, kb_ids: Sequence[UUID]) -> None:
        self._api = api
        self._org_id = org_id
        self._kb_ids = list(kb_ids)

    async def search(self, query: str, k: int) -> list[Passage]:
        if not self._kb_ids or not query.strip():
            return []
        hits = await self._api.search(self._org_id, self._kb_ids, query, k)
        return [Passage(id=h["chunkId"], text=h["text"], source=h.get("filename", "")) for h in hits]
