"""The outbox visible to its relay only, the inbox insert-only for the application role.

Revision ID: 0002
Revises: 0001
"""

from alembic import context, op

from voice_shared.outbox import outbox_lockdown_ddl, outbox_unlock_ddl

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in outbox_lockdown_ddl(context.config.attributes["schema"], context.config.attributes["app_role"]):
        op.execute(statement)


def downgrade() -> None:
    for statement in outbox_unlock_ddl(context.config.attributes["schema"], context.config.attributes["app_role"]):
        op.execute(statement)
