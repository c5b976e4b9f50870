"""Each service's table models match its migrations: Alembic's compare_metadata against the migrated
test database finds no table or column the models and the migrations disagree on (name, type, nullable).

Indexes, constraints, foreign keys, policies and the tables no model maps (outbox, inbox) live in the
migrations only (models say "DDL lives in migrations/"), so they are not compared.
"""

import importlib
import pkgutil
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, types
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from voice_cli.registry import Service, with_schema

pytestmark = pytest.mark.integration

DDL_ONLY = {"add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"}


def models_of(service: Service) -> MetaData:
    """The service's tables: every ``models`` module of its package imported, its schema's tables kept."""
    root = importlib.import_module(service.package)
    for info in pkgutil.walk_packages(root.__path__, f"{service.package}."):
        if info.name.rsplit(".", 1)[-1] == "models":
            importlib.import_module(info.name)
    metadata = MetaData()
    for table in SQLModel.metadata.tables.values():
        if table.schema == service.schema:
            table.to_metadata(metadata)
    return metadata


def same_type(_: Any, __: Any, ___: Any, inspected: types.TypeEngine[Any], modelled: types.TypeEngine[Any],
              *____: Any) -> bool | None:
    """SQLModel's ``str`` (AutoString) is Postgres's text; anything else is Alembic's own comparison."""
    if isinstance(modelled, AutoString) and isinstance(inspected, types.String):
        return False
    return None


def drift(connection: Connection, service: Service, metadata: MetaData) -> list[Any]:
    modelled = set(metadata.tables)

    def include(obj: Any, name: str | None, kind: str, reflected: bool, _: Any) -> bool:
        # A table only the database has (outbox, inbox, alembic_version) is the migrations' alone.
        return not (kind == "table" and reflected and f"{service.schema}.{name}" not in modelled)

    context = MigrationContext.configure(connection, opts={
        "include_schemas": True, "compare_type": same_type, "include_object": include,
        "include_name": lambda name, kind, _: kind != "schema" or name == service.schema,
    })
    changes = [c for group in compare_metadata(context, metadata) for c in (group if isinstance(group, list)
                                                                              else [group])]
    return [c for c in changes if c[0] not in DDL_ONLY]


@pytest.mark.parametrize("service", with_schema(), ids=lambda s: s.name)
async def test_the_table_models_match_the_migrations(service: Service, platform_env: dict[str, str]) -> None:
    metadata = models_of(service)
    assert metadata.tables, f"{service.name} maps no table"
    engine = create_async_engine(platform_env["migration_database_url"])
    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(drift, service, metadata)
    finally:
        await engine.dispose()
    assert found == [], "\n".join(map(str, found))
