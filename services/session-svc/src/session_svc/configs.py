"""Interview configs: validated, versioned on every change, refused deletion while in use."""

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from session_svc import repository as repo
from session_svc.models import VoiceConfig, VoiceConfigVersion
from session_svc.permissions import require_admin, require_member
from session_svc.settings import SCHEMA
from voice_shared.api.common import Page
from voice_shared.api.configs import (
    ConfigCreate,
    ConfigPublic,
    ConfigUpdate,
    ConfigVersionPublic,
    InterviewDefinition,
)
from voice_shared.auth import Principal, require_service
from voice_shared.contracts import ConfigCreated, ConfigDeleted, ConfigUpdated, envelope
from voice_shared.db import SessionMaker, transaction
from voice_shared.errors import Conflict, NotFound, ValidationFailed
from voice_shared.outbox import add_to_outbox

META_FIELDS = {"name", "description", "active"}


def _public(c: VoiceConfig) -> ConfigPublic:
    definition = InterviewDefinition.model_validate(c.definition)
    return ConfigPublic(
        **dict(definition),
        id=c.id, org_id=c.org_id, name=c.name, description=c.description, active=c.active,
        version=c.version, created_by=c.created_by, created_at=c.created_at, updated_at=c.updated_at,
    )


def _definition(body: InterviewDefinition) -> dict[str, Any]:
    fields = set(InterviewDefinition.model_fields)
    return body.model_dump(mode="json", by_alias=True, include=fields)


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"A config named {name!r} already exists in this organisation; choose another name.",
        code="config_name_taken",
    )


async def create_config(
    db: SessionMaker, principal: Principal, org_id: UUID, body: ConfigCreate, correlation_id: str
) -> ConfigPublic:
    require_admin(principal, org_id)
    now = datetime.now(UTC)
    config = VoiceConfig(
        id=uuid.uuid4(), org_id=org_id, name=body.name, description=body.description,
        active=body.active, version=1, definition=_definition(body), created_by=principal.sub,
        created_at=now, updated_at=now,
    )
    try:
        async with transaction(db, org_id) as tx:
            tx.add(config)
            await tx.flush()
            tx.add(VoiceConfigVersion(config_id=config.id, version=1, org_id=org_id,
                                      definition=config.definition, created_at=now))
            await add_to_outbox(tx, SCHEMA, envelope(
                ConfigCreated(config_id=config.id, name=config.name, config_version=1),
                org_id=org_id, correlation_id=correlation_id,
            ))
    except IntegrityError as e:
        raise _name_taken(body.name) from e
    return _public(config)


async def list_configs(
    db: SessionMaker, principal: Principal, org_id: UUID, *, active: bool | None,
    limit: int, cursor: str | None,
) -> Page[ConfigPublic]:
    require_member(principal, org_id)
    where = [col(VoiceConfig.org_id) == org_id]
    if active is not None:
        where.append(col(VoiceConfig.active) == active)
    async with transaction(db, org_id) as tx:
        rows = (await tx.execute(
            repo.page_after(select(VoiceConfig).where(*where), VoiceConfig, cursor, limit)
        )).scalars().all()
        total = await repo.count(tx, VoiceConfig, *where)
    page, next_cursor = repo.page_of(rows, limit, lambda c: (c.created_at, c.id))
    return Page[ConfigPublic](items=[_public(c) for c in page], total=total, next_cursor=next_cursor)


async def get_config(db: SessionMaker, principal: Principal, org_id: UUID, config_id: UUID) -> ConfigPublic:
    require_member(principal, org_id)
    async with transaction(db, org_id) as tx:
        return _public(await repo.get_config_row(tx, config_id))


async def update_config(
    db: SessionMaker, principal: Principal, org_id: UUID, config_id: UUID, body: ConfigUpdate,
    correlation_id: str,
) -> ConfigPublic:
    require_admin(principal, org_id)
    changes = body.model_dump(exclude_unset=True, mode="json", by_alias=True)
    try:
        async with transaction(db, org_id) as tx:
            config = await repo.get_config_row(tx, config_id, lock=True)
            current = {"name": config.name, "description": config.description,
                       "active": config.active, **config.definition}
            try:
                merged = ConfigCreate.model_validate({**current, **changes})
            except ValidationError as e:  # the change is valid alone but not with the rest
                raise ValidationFailed(
                    "The change leaves the config invalid.",
                    details=[{"loc": list(err["loc"]), "msg": err["msg"]} for err in e.errors()],
                ) from e
            if merged.model_dump(mode="json") == ConfigCreate.model_validate(current).model_dump(mode="json"):
                return _public(config)  # nothing changed: no new version
            now = datetime.now(UTC)
            definition = _definition(merged)
            config.name, config.description, config.active = merged.name, merged.description, merged.active
            if definition != config.definition:
                config.definition = definition
            config.version += 1
            config.updated_at = now
            tx.add(config)
            tx.add(VoiceConfigVersion(config_id=config.id, version=config.version, org_id=org_id,
                                      definition=definition, created_at=now))
            await tx.flush()
            await add_to_outbox(tx, SCHEMA, envelope(
                ConfigUpdated(config_id=config.id, name=config.name,
                              config_version=config.version, active=config.active),
                org_id=org_id, correlation_id=correlation_id,
            ))
    except IntegrityError as e:
        raise _name_taken(changes.get("name", "")) from e
    return _public(config)


async def delete_config(
    db: SessionMaker, principal: Principal, org_id: UUID, config_id: UUID, correlation_id: str
) -> None:
    require_admin(principal, org_id)
    async with transaction(db, org_id) as tx:
        config = await repo.get_config_row(tx, config_id, lock=True)
        used_by = await repo.config_in_use(tx, config_id)
        if used_by:
            raise Conflict(
                f"The config is used by {used_by} session(s) and cannot be deleted; "
                "deactivate it instead with PATCH {\"active\": false}.",
                code="config_in_use", details={"sessions": used_by},
            )
        await tx.delete(config)
        await add_to_outbox(tx, SCHEMA, envelope(
            ConfigDeleted(config_id=config_id), org_id=org_id, correlation_id=correlation_id
        ))


async def get_config_version(
    db: SessionMaker, principal: Principal, org_id: UUID, config_id: UUID, version: int
) -> ConfigVersionPublic:
    """A stored version, as a session runs it; for members and service identities (the bot)."""
    if principal.service is None:
        require_member(principal, org_id)
    else:
        require_service(principal)
    async with transaction(db, org_id) as tx:
        row = await tx.get(VoiceConfigVersion, (config_id, version))
    if row is None:
        raise NotFound("No such config version.", code="config_version_not_found")
    return ConfigVersionPublic(
        config_id=row.config_id, version=row.version,
        definition=InterviewDefinition.model_validate(row.definition), created_at=row.created_at,
    )
