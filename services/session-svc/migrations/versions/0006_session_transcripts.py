"""What session-svc knows of each session's final transcript (from transcript.completed): the list
of transcripts is a list of sessions, filtered by who may read them. No foreign key: an event about a
session unknown here must not fail its consumer; lists join on the session anyway.

Revision ID: 0006
Revises: 0005
"""

from alembic import context, op

from voice_shared.db import tenant_policy_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    s = context.config.attributes["schema"]
    role = context.config.attributes["app_role"]
    statements = [
        f"""CREATE TABLE {s}.voice_session_transcripts (
            id uuid PRIMARY KEY,
            session_id uuid NOT NULL UNIQUE,
            org_id uuid NOT NULL,
            revision integer NOT NULL CHECK (revision >= 1),
            session_status text NOT NULL,
            segment_count integer NOT NULL,
            word_count integer NOT NULL,
            candidate_word_count integer NOT NULL,
            duration_ms bigint NOT NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL
        )""",
        f"CREATE INDEX voice_session_transcripts_org_created ON {s}.voice_session_transcripts "
        "(org_id, created_at DESC, id DESC)",
        *tenant_policy_sql(s, "voice_session_transcripts", role),
    ]
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    op.execute(f"DROP TABLE IF EXISTS {context.config.attributes['schema']}.voice_session_transcripts")
