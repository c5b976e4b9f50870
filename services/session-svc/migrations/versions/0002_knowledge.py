"""Knowledge bases, their documents and searchable chunks, and the KBs linked to each session.

Composite foreign keys on ``(org_id, ...)`` make a row that points into another org impossible,
even for a statement that got past Row Level Security (foreign-key checks bypass it).

Revision ID: 0002
Revises: 0001
"""

from alembic import context, op

from voice_shared.db import tenant_policy_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("knowledge_bases", "kb_documents", "kb_chunks", "voice_session_kbs")


def upgrade() -> None:
    s = context.config.attributes["schema"]
    role = context.config.attributes["app_role"]
    statements = [
        f"ALTER TABLE {s}.voice_sessions ADD CONSTRAINT voice_sessions_org_id_id_key UNIQUE (org_id, id)",
        f"""CREATE TABLE {s}.knowledge_bases (
            id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            name text NOT NULL,
            description text NOT NULL DEFAULT '',
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (org_id, name),
            UNIQUE (org_id, id)
        )""",
        f"CREATE INDEX knowledge_bases_list ON {s}.knowledge_bases (org_id, created_at DESC, id DESC)",
        f"""CREATE TABLE {s}.kb_documents (
            id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            kb_id uuid NOT NULL,
            filename text NOT NULL,
            content_type text NOT NULL,
            size_bytes integer NOT NULL CHECK (size_bytes >= 0),
            chunk_count integer NOT NULL CHECK (chunk_count >= 0),
            created_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (org_id, kb_id, id),
            FOREIGN KEY (org_id, kb_id) REFERENCES {s}.knowledge_bases (org_id, id) ON DELETE CASCADE
        )""",
        f"CREATE INDEX kb_documents_kb ON {s}.kb_documents (kb_id, created_at)",
        f"""CREATE TABLE {s}.kb_chunks (
            id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            kb_id uuid NOT NULL,
            document_id uuid NOT NULL,
            ordinal integer NOT NULL CHECK (ordinal >= 0),
            text text NOT NULL,
            tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
            UNIQUE (document_id, ordinal),
            FOREIGN KEY (org_id, kb_id, document_id)
                REFERENCES {s}.kb_documents (org_id, kb_id, id) ON DELETE CASCADE
        )""",
        f"CREATE INDEX kb_chunks_tsv ON {s}.kb_chunks USING gin (tsv)",
        f"CREATE INDEX kb_chunks_kb ON {s}.kb_chunks (kb_id)",
        f"""CREATE TABLE {s}.voice_session_kbs (
            org_id uuid NOT NULL,
            session_id uuid NOT NULL,
            kb_id uuid NOT NULL,
            enabled boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (session_id, kb_id),
            FOREIGN KEY (org_id, session_id) REFERENCES {s}.voice_sessions (org_id, id) ON DELETE CASCADE,
            FOREIGN KEY (org_id, kb_id) REFERENCES {s}.knowledge_bases (org_id, id) ON DELETE CASCADE
        )""",
        f"CREATE INDEX voice_session_kbs_kb ON {s}.voice_session_kbs (kb_id)",
    ]
    for table in TABLES:
        statements += tenant_policy_sql(s, table, role)
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    s = context.config.attributes["schema"]
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE IF EXISTS {s}.{table} CASCADE")
    op.execute(f"ALTER TABLE {s}.voice_sessions DROP CONSTRAINT IF EXISTS voice_sessions_org_id_id_key")
