"""Rooms of sessions (one row per provisioned room, so a retried start gets a fresh one) and the
candidate's consent.

The sweeper works across orgs through ``rooms_to_sweep``, a SECURITY DEFINER function that
returns only ids; it then acts on each room inside that org's tenant transaction. The function
runs as the owner role, which Row Level Security (forced) lets read the two tables it needs
through the ``owner_reads`` policies; the application role gets nothing from them.

Revision ID: 0004
Revises: 0003
"""

from alembic import context, op

from voice_shared.db import tenant_policy_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    s = context.config.attributes["schema"]
    role = context.config.attributes["app_role"]
    statements = [
        f"ALTER TABLE {s}.voice_sessions ADD COLUMN consent_at timestamptz",
        f"ALTER TABLE {s}.voice_sessions ADD COLUMN consent_text_version text",
        f"""CREATE TABLE {s}.voice_rooms (
            id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            session_id uuid NOT NULL,
            provider text NOT NULL,
            name text NOT NULL,
            url text,
            expires_at timestamptz NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            deleted_at timestamptz,
            delete_attempts integer NOT NULL DEFAULT 0,
            last_error text,
            UNIQUE (session_id, name),
            FOREIGN KEY (org_id, session_id) REFERENCES {s}.voice_sessions (org_id, id) ON DELETE CASCADE
        )""",
        f"CREATE INDEX voice_rooms_session ON {s}.voice_rooms (session_id, created_at DESC)",
        f"CREATE INDEX voice_rooms_live ON {s}.voice_rooms (expires_at) WHERE deleted_at IS NULL",
        *tenant_policy_sql(s, "voice_rooms", role),
        f"CREATE POLICY owner_reads ON {s}.voice_rooms FOR SELECT TO CURRENT_USER USING (true)",
        f"CREATE POLICY owner_reads ON {s}.voice_sessions FOR SELECT TO CURRENT_USER USING (true)",
        f"""CREATE FUNCTION {s}.rooms_to_sweep(max_rows integer)
            RETURNS TABLE (org_id uuid, room_id uuid)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, {s} AS $$
                SELECT r.org_id, r.id FROM {s}.voice_rooms r
                JOIN {s}.voice_sessions v ON v.id = r.session_id
                WHERE r.deleted_at IS NULL
                  AND (r.expires_at < now()
                       OR v.status IN ('completed', 'failed', 'cancelled')
                       OR v.deleted_at IS NOT NULL
                       OR r.id <> (SELECT id FROM {s}.voice_rooms l WHERE l.session_id = r.session_id
                                   ORDER BY l.created_at DESC, l.id DESC LIMIT 1))
                -- rooms whose deletion keeps failing (a revoked key) go last, never starving the rest
                ORDER BY r.delete_attempts, r.created_at
                LIMIT max_rows
            $$""",
        f"REVOKE ALL ON FUNCTION {s}.rooms_to_sweep(integer) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {s}.rooms_to_sweep(integer) TO {role}",
    ]
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    s = context.config.attributes["schema"]
    op.execute(f"DROP FUNCTION IF EXISTS {s}.rooms_to_sweep(integer)")
    op.execute(f"DROP TABLE IF EXISTS {s}.voice_rooms CASCADE")
    op.execute(f"DROP POLICY IF EXISTS owner_reads ON {s}.voice_sessions")
    op.execute(f"ALTER TABLE {s}.voice_sessions DROP COLUMN IF EXISTS consent_text_version")
    op.execute(f"ALTER TABLE {s}.voice_sessions DROP COLUMN IF EXISTS consent_at")
