"""Creates the database, roles and service schemas (as a superuser), idempotently."""

import asyncpg
from sqlalchemy.engine import make_url


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def ensure_database(superuser_url: str, app_url: str, owner_url: str, schemas: list[str]) -> None:
    """Make the owner and application roles, the database and each schema owned by the owner.

    ``superuser_url`` points at any existing database of the server (e.g. ``postgres``).
    """
    app, owner = make_url(app_url), make_url(owner_url)
    db = app.database
    conn = await asyncpg.connect(_plain(superuser_url))
    try:
        for role in (owner.username, app.username):
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
            if not exists:
                # Passwords come from the URLs; trust-auth installs leave them empty.
                pw = owner.password if role == owner.username else app.password
                clause = f" PASSWORD '{pw}'" if pw else ""
                await conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS{clause}')
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db):
            await conn.execute(f'CREATE DATABASE "{db}" OWNER "{owner.username}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(_plain(superuser_url.rsplit("/", 1)[0] + f"/{db}"))
    try:
        for schema in schemas:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}" AUTHORIZATION "{owner.username}"')
            await conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{app.username}"')
    finally:
        await conn.close()


async def drop_database(superuser_url: str, db: str) -> None:
    conn = await asyncpg.connect(_plain(superuser_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    finally:
        await conn.close()
