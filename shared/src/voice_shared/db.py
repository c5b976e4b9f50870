"""Async database helpers: engines, transactions with the per-transaction tenant setting."""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

# Row Level Security policies compare org_id with this setting (see tenant_policy_sql).
TENANT_SETTING = "app.org_id"

SessionMaker = async_sessionmaker[AsyncSession]


# Seconds spent in the database by the current request (a list, so that SQLAlchemy's greenlets,
# which run in a copy of the request's context, add to the same one). Set by the HTTP middleware.
DATABASE_SECONDS: ContextVar[list[float] | None] = ContextVar("database_seconds", default=None)


def make_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    _time_statements(engine)
    return engine


def _time_statements(engine: AsyncEngine) -> None:
    """Add each statement's time to ``DATABASE_SECONDS`` (the request's Server-Timing ``db`` entry)."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def started(conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, many: bool) -> None:
        conn.info.setdefault("statement_started", []).append(time.perf_counter())

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def finished(conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, many: bool) -> None:
        began = conn.info["statement_started"].pop()
        if (spent := DATABASE_SECONDS.get()) is not None:
            spent[0] += time.perf_counter() - began


def make_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: SessionMaker, org_id: UUID | None = None, *, snapshot: bool = False
) -> AsyncIterator[AsyncSession]:
    """One transaction; with ``org_id`` the tenant setting is set for this transaction only.

    ``snapshot``: every statement sees the same snapshot (REPEATABLE READ), e.g. a page and its total.
    """
    async with sessions() as session, session.begin():
        if snapshot:
            await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        if org_id is not None:
            await session.execute(
                text("select set_config(:name, :org, true)"),
                {"name": TENANT_SETTING, "org": str(org_id)},
            )
        yield session


def tenant_policy_sql(schema: str, table: str, app_role: str) -> list[str]:
    """DDL that forces Row Level Security on a tenant table keyed on ``org_id``."""
    qualified = f"{schema}.{table}"
    return [
        f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {qualified} "
        f"USING (org_id = nullif(current_setting('{TENANT_SETTING}', true), '')::uuid) "
        f"WITH CHECK (org_id = nullif(current_setting('{TENANT_SETTING}', true), '')::uuid)",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {qualified} TO {app_role}",
    ]
