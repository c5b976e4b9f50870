"""Transcript segments as the bot publishes them (one row per session and sequence), outbox and inbox.

The outbox is created now, with the inbox, because ``outbox_ddl`` makes both: the final transcript
(``transcript.completed``, a later migration) goes out through it.

Revision ID: 0001
Revises:
"""

from alembic import context, op

from voice_shared.db import tenant_policy_sql
from voice_shared.outbox import outbox_ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    s = context.config.attributes["schema"]
    role = context.config.attributes["app_role"]
    statements = [
        f"""CREATE TABLE {s}.transcript_segments (
            org_id uuid NOT NULL,
            session_id uuid NOT NULL,
            sequence integer NOT NULL CHECK (sequence >= 0),
            speaker text NOT NULL CHECK (speaker IN ('bot', 'candidate')),
            text text NOT NULL,
            start_ms bigint NOT NULL CHECK (start_ms >= 0),
            end_ms bigint NOT NULL CHECK (end_ms >= 0),
            question_id text,
            follow_up_index integer CHECK (follow_up_index >= 0),
            kind text,
            final boolean NOT NULL,
            event_id uuid NOT NULL,
            stored_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (session_id, sequence)
        )""",
        *tenant_policy_sql(s, "transcript_segments", role),
        *outbox_ddl(s, role),
    ]
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    s = context.config.attributes["schema"]
    for table in ("transcript_segments", "outbox", "inbox"):
        op.execute(f"DROP TABLE IF EXISTS {s}.{table} CASCADE")
