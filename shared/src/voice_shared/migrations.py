"""Alembic helpers: every service's ``migrations/env.py`` calls ``run_env``; the CLI calls ``upgrade``."""

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(migrations_dir: Path, url: str, schema: str, app_role: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["schema"] = schema
    cfg.attributes["app_role"] = app_role
    return cfg


def upgrade(migrations_dir: Path, url: str, schema: str, app_role: str) -> None:
    """Run a service's migrations to head (blocking; call in a thread from async code)."""
    command.upgrade(alembic_config(migrations_dir, url, schema, app_role), "head")


def run_env() -> None:
    """The body of a service's env.py: online migrations over asyncpg in the service schema."""
    cfg = context.config
    schema = cfg.attributes["schema"]

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            version_table_schema=schema,
            include_schemas=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    url = cfg.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("sqlalchemy.url is not set; build the Alembic config with alembic_config().")

    async def main() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as conn:
            await conn.run_sync(migrate)
        await engine.dispose()

    asyncio.run(main())
