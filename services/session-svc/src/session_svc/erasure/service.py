"""Erase a candidate: every session with their email (deleted ones too) is cancelled if still
running, transcript-svc removes its records, and the sessions keep no name, email or metadata.

transcript-svc goes first (idempotent): if it fails nothing here changes and the admin retries; if
this transaction fails after it, the retry finds the records already gone and completes.
"""

import uuid
from datetime import UTC, datetime
from uuid import UUID

from session_svc.erasure import repository
from session_svc.erasure.models import Erasure
from session_svc.erasure.transcripts import TranscriptErasure
from session_svc.lifecycle import TERMINAL
from session_svc.permissions import require_admin
from session_svc.service import apply_transition
from session_svc.settings import SCHEMA
from voice_shared.api.org import ErasureReceipt
from voice_shared.api.transcripts import RecordRemoved
from voice_shared.auth import Principal
from voice_shared.contracts import CandidateErased, SessionStatus, envelope
from voice_shared.db import SessionMaker, transaction
from voice_shared.outbox import add_to_outbox

ERASED_NAME = "Erased candidate"
ERASED_REASON = "candidate_erased"


def erased_email(session_id: UUID) -> str:
    return f"erased+{session_id}@erased.invalid"  # .invalid: reserved, never a real address


async def erase_candidate(
    db: SessionMaker, transcripts: TranscriptErasure, principal: Principal, org_id: UUID, email: str,
    authorization: str, correlation_id: str,
) -> ErasureReceipt:
    require_admin(principal, org_id)
    async with transaction(db, org_id) as tx:
        sessions = await repository.candidate_sessions(tx, email)
        cancelled, events = 0, []
        for session in sessions:
            if SessionStatus(session.status) not in TERMINAL:
                events += apply_transition(session, SessionStatus.cancelled, ERASED_REASON, principal.sub,
                                           correlation_id)
                cancelled += 1
        ids = [s.id for s in sessions]
        removed = await transcripts.erase(authorization, org_id, ids, correlation_id) if ids else None
        now = datetime.now(UTC)
        for session in sessions:
            session.candidate_name, session.candidate_email = ERASED_NAME, erased_email(session.id)
            session.metadata_, session.updated_at = {}, now
            tx.add(session)
        receipt = Erasure(
            id=uuid.uuid4(), org_id=org_id, requested_by=principal.sub, requested_at=now, session_count=len(ids),
            removed={
                "session-svc": {"sessionsCleared": len(ids), "sessionsCancelled": cancelled},
                "transcript-svc": (removed or RecordRemoved(transcripts=0, segments=0, object_versions=0))
                .model_dump(by_alias=True),
            },
        )
        tx.add(receipt)
        await tx.flush()
        events.append(envelope(CandidateErased(erasure_id=receipt.id, session_ids=ids), org_id=org_id,
                               correlation_id=correlation_id))
        await add_to_outbox(tx, SCHEMA, *events)
    return ErasureReceipt.model_validate(receipt)
