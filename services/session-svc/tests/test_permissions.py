"""Permission rules, as pure functions of principal and session facts."""

import uuid

import pytest

from session_svc.permissions import SessionFacts, access
from voice_shared.api.access import ShareLevel, allows
from voice_shared.auth import Principal, Role

ORG, OTHER_ORG, WS = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def who(role: Role | None = Role.org_user, sub: str = "u1", **kw: object) -> Principal:
    return Principal(sub=sub, orgs={ORG: role} if role else {}, **kw)  # type: ignore[arg-type]


def session(**kw: object) -> SessionFacts:
    base: dict[str, object] = dict(org_id=ORG, created_by="creator", assignee_id="assignee",
                                   workspace_id=WS, shared_with_workspace=False, share_level=None)
    base.update(kw)
    return SessionFacts(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("role", [Role.org_admin, Role.org_owner])
def test_admins_and_owners_manage_every_session(role: Role) -> None:
    assert access(who(role), session()) == "manage"


def test_creator_and_assignee_manage() -> None:
    assert access(who(sub="creator"), session()) == "manage"
    assert access(who(sub="assignee"), session()) == "manage"


def test_other_member_sees_nothing_without_share() -> None:
    assert access(who(), session()) is None


@pytest.mark.parametrize("level", list(ShareLevel))
def test_share_grants_its_level_and_below(level: ShareLevel) -> None:
    granted = access(who(), session(share_level=level))
    assert granted == level.value
    assert allows(granted, "view")
    assert not allows(granted, "manage")
    assert allows(granted, "view_analytics") == (level == ShareLevel.view_analytics)
    assert allows(granted, "view_transcript") == (level != ShareLevel.view)


def test_workspace_share_visible_to_workspace_members_only() -> None:
    shared = session(shared_with_workspace=True)
    assert access(who(workspaces=frozenset({WS})), shared) == "view"
    assert access(who(workspaces=frozenset({uuid.uuid4()})), shared) is None
    assert access(who(workspaces=frozenset({WS})), session()) is None


def test_platform_admin_without_membership_sees_nothing() -> None:
    assert access(who(None, platform_admin=True), session()) is None


def test_member_of_another_org_sees_nothing_even_as_creator() -> None:
    outsider = Principal(sub="creator", orgs={OTHER_ORG: Role.org_owner})
    assert access(outsider, session()) is None


def test_a_share_never_lowers_a_managers_access() -> None:
    assert access(who(sub="creator"), session(share_level=ShareLevel.view)) == "manage"
