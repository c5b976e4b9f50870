"""Configs (with versions), sessions, KB links, shares, outbox and inbox.

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
        f"""CREATE TABLE {s}.voice_configs (
            id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            name text NOT NULL,
            description text NOT NULL DEFAULT '',
            active boolean NOT NULL DEFAULT true,
            version integer NOT NULL DEFAULT 1,
            definition jsonb NOT NULL,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (org_id, name)
        )""",
        f"""CREATE TABLE {s}.voice_config_versions (
            config_id uuid NOT NULL REFERENCES {s}.voice_configs(id) ON DELETE CASCADE,
            version integer NOT NULL,
            org_id uuid NOT NULL,
            definition jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (config_id, version)
        )""",
        f"""CREATE TABLE {s}.voice_sessions (
            id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            workspace_id uuid,
            config_id uuid NOT NULL REFERENCES {s}.voice_configs(id),
            config_version integer NOT NULL,
            interview_type text NOT NULL,
            candidate_name text NOT NULL,
            candidate_email text NOT NULL,
            status text NOT NULL DEFAULT 'pending',
            status_reason text,
            metadata jsonb NOT NULL DEFAULT '{{}}',
            created_by text NOT NULL,
            assignee_id text,
            shared_with_workspace boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            ready_at timestamptz,
            active_at timestamptz,
            ended_at timestamptz,
            deleted_at timestamptz
        )""",
        f"CREATE INDEX voice_sessions_list ON {s}.voice_sessions (org_id, created_at DESC, id DESC) "
        "WHERE deleted_at IS NULL",
        f"CREATE INDEX voice_sessions_config ON {s}.voice_sessions (config_id)",
        f"""CREATE TABLE {s}.voice_shares (
            id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            session_id uuid NOT NULL REFERENCES {s}.voice_sessions(id) ON DELETE CASCADE,
            user_id text NOT NULL,
            level text NOT NULL,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (session_id, user_id)
        )""",
        f"CREATE INDEX voice_shares_user ON {s}.voice_shares (org_id, user_id)",
        *outbox_ddl(s, role),
    ]
    for table in ("voice_configs", "voice_config_versions", "voice_sessions", "voice_shares"):
        statements += tenant_policy_sql(s, table, role)
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    s = context.config.attributes["schema"]
    for table in ("voice_shares", "voice_sessions", "voice_config_versions", "voice_configs",
                  "outbox", "inbox"):
        op.execute(f"DROP TABLE IF EXISTS {s}.{table} CASCADE")
