"""Final transcripts: one per session, revised when late segments are merged.

Revision ID: 0003
Revises: 0002
"""

from alembic import context, op

from voice_shared.db import tenant_policy_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    s = context.config.attributes["schema"]
    role = context.config.attributes["app_role"]
    statements = [
        f"""CREATE TABLE {s}.transcripts (
            id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            session_id uuid NOT NULL UNIQUE,
            revision integer NOT NULL CHECK (revision >= 1),
            session_status text NOT NULL CHECK (session_status IN ('completed', 'failed', 'cancelled')),
            end_reason text NOT NULL,
            segment_count integer NOT NULL CHECK (segment_count >= 0),
            word_count integer NOT NULL CHECK (word_count >= 0),
            speakers jsonb NOT NULL,
            duration_ms bigint NOT NULL CHECK (duration_ms >= 0),
            text text NOT NULL,
            object_keys jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )""",
        f"CREATE INDEX transcripts_org_created ON {s}.transcripts (org_id, created_at)",
        *tenant_policy_sql(s, "transcripts", role),
    ]
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    op.execute(f"DROP TABLE IF EXISTS {context.config.attributes['schema']}.transcripts CASCADE")
