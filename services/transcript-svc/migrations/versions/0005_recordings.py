"""Audio recordings of sessions (from the bot's recording.completed): where each one is stored.

Revision ID: 0005
Revises: 0004
"""

from alembic import context, op

from voice_shared.db import tenant_policy_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    s = context.config.attributes["schema"]
    role = context.config.attributes["app_role"]
    statements = [
        f"""CREATE TABLE {s}.recordings (
            session_id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            object_key text NOT NULL,
            content_type text NOT NULL,
            channels text NOT NULL,
            duration_ms bigint NOT NULL CHECK (duration_ms >= 0),
            created_at timestamptz NOT NULL DEFAULT now()
        )""",
        *tenant_policy_sql(s, "recordings", role),
    ]
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    op.execute(f"DROP TABLE IF EXISTS {context.config.attributes['schema']}.recordings")
