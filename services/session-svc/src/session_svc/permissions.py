"""Who may do what with a session. Pure functions of the principal and the session's facts."""

from dataclasses import dataclass
from uuid import UUID

from voice_shared.api.access import Access, ShareLevel
from voice_shared.auth import Principal
from voice_shared.errors import Forbidden, NotFound


@dataclass(frozen=True)
class SessionFacts:
    """What the rules need to know about a session."""

    org_id: UUID
    created_by: str
    assignee_id: str | None
    workspace_id: UUID | None
    shared_with_workspace: bool
    share_level: ShareLevel | None  # the caller's own share, if any


def access(principal: Principal, s: SessionFacts) -> Access | None:
    """The caller's best access to the session, or None (then it does not exist for them)."""
    if not principal.is_member(s.org_id):
        return None  # platform admins included: no org data without membership
    if principal.is_org_admin(s.org_id):
        return "manage"
    if principal.sub in (s.created_by, s.assignee_id):
        return "manage"
    best: Access | None = s.share_level.value if s.share_level else None  # type: ignore[assignment]
    if s.shared_with_workspace and s.workspace_id in principal.workspaces and best is None:
        best = "view"
    return best


def can_create_sessions(principal: Principal, org_id: UUID) -> bool:
    return principal.is_member(org_id)


def can_manage_org_resources(principal: Principal, org_id: UUID) -> bool:
    """Configs and knowledge bases are written by org admins and owners."""
    return principal.is_org_admin(org_id)


def can_read_org_resources(principal: Principal, org_id: UUID) -> bool:
    return principal.is_member(org_id)


def require_member(principal: Principal, org_id: UUID) -> None:
    """Non-members get 404: an org they do not belong to does not exist for them."""
    if not principal.is_member(org_id):
        raise NotFound("No such resource in this organisation.", code="not_found")


def require_admin(principal: Principal, org_id: UUID) -> None:
    require_member(principal, org_id)
    if not principal.is_org_admin(org_id):
        raise Forbidden("Only org admins and owners may do this.", code="admin_required")
