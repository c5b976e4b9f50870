"""transcript-svc's erasure endpoint, asked with the org admin's own token."""

from uuid import UUID

import httpx
import structlog

from voice_shared.api.transcripts import RecordRemoved, SessionsErasure
from voice_shared.errors import ServiceUnavailable

log = structlog.get_logger()


class TranscriptsUnavailable(ServiceUnavailable):
    code = "dependency_unavailable"


class TranscriptErasure:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def erase(
        self, authorization: str, org_id: UUID, session_ids: list[UUID], correlation_id: str
    ) -> RecordRemoved:
        body = SessionsErasure(session_ids=session_ids).model_dump_json(by_alias=True)
        try:
            answer = await self.client.post(
                "/internal/erasures", params={"orgId": str(org_id)}, content=body,
                headers={"Authorization": authorization, "X-Correlation-ID": correlation_id,
                         "Content-Type": "application/json"},
            )
        except httpx.TransportError as e:
            log.warning("transcript_erasure_unavailable", error=f"{type(e).__name__}: {e}")
            raise TranscriptsUnavailable("transcript-svc did not answer, so nothing was erased; try again.",
                                         details={"upstream": "transcript-svc"}) from e
        if answer.status_code != 200:
            log.warning("transcript_erasure_refused", status=answer.status_code, body=answer.text[:300])
            raise TranscriptsUnavailable("transcript-svc refused the erasure, so nothing was erased; try again.",
                                         details={"upstream": "transcript-svc", "status": answer.status_code})
        return RecordRemoved.model_validate(answer.json())
