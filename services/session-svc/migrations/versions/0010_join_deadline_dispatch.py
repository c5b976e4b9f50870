"""Invite, then the candidate starts: each session's join deadline and dispatch, and each org's limit
on concurrent interviews.

``join_deadline``: until when the candidate may press Start (set by start from the config's
``linkValidHours`` unless the session names one). ``dispatched_at``: when the bot job went out (the
candidate pressed Start, or a manager dispatched); cleared when a bot lets the session go because the
candidate never connected. ``dispatch_count`` numbers the dispatches. The sweeper finds sessions past
their deadline across orgs through ``sessions_past_deadline``, a SECURITY DEFINER function that
returns ids only (as ``rooms_to_sweep`` does), then ends each in its org's tenant transaction. A bot
that comes up synthesises the greetings of sessions waiting for their candidate's Start ahead, read
through ``invited_greetings`` (the greeting texts only, newest invitations first).

Revision ID: 0010
Revises: 0009
"""

from alembic import context, op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    s = context.config.attributes["schema"]
    role = context.config.attributes["app_role"]
    statements = [
        f"ALTER TABLE {s}.voice_sessions ADD COLUMN join_deadline timestamptz, "
        "ADD COLUMN dispatched_at timestamptz, "
        "ADD COLUMN dispatch_count integer NOT NULL DEFAULT 0 CHECK (dispatch_count >= 0)",
        f"CREATE INDEX voice_sessions_deadline ON {s}.voice_sessions (join_deadline) "
        "WHERE status = 'ready' AND dispatched_at IS NULL AND deleted_at IS NULL",
        f"CREATE INDEX voice_sessions_running ON {s}.voice_sessions (org_id) "
        "WHERE status = 'active' OR (status = 'ready' AND dispatched_at IS NOT NULL)",
        f"ALTER TABLE {s}.voice_org_settings ADD COLUMN max_concurrent_interviews integer "
        "CHECK (max_concurrent_interviews >= 1)",
        f"""CREATE FUNCTION {s}.sessions_past_deadline(max_rows integer)
            RETURNS TABLE (org_id uuid, session_id uuid)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, {s} AS $$
                SELECT v.org_id, v.id FROM {s}.voice_sessions v
                WHERE v.status = 'ready' AND v.dispatched_at IS NULL AND v.deleted_at IS NULL
                  AND v.join_deadline < now()
                ORDER BY v.join_deadline
                LIMIT max_rows
            $$""",
        f"REVOKE ALL ON FUNCTION {s}.sessions_past_deadline(integer) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {s}.sessions_past_deadline(integer) TO {role}",
        f"CREATE POLICY owner_reads ON {s}.voice_config_versions FOR SELECT TO CURRENT_USER USING (true)",
        f"""CREATE FUNCTION {s}.invited_greetings(max_rows integer)
            RETURNS TABLE (greeting text)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, {s} AS $$
                SELECT g.greeting FROM (
                    SELECT c.definition->>'greeting' AS greeting, max(v.ready_at) AS latest
                    FROM {s}.voice_sessions v
                    JOIN {s}.voice_config_versions c ON c.config_id = v.config_id AND c.version = v.config_version
                    WHERE v.status = 'ready' AND v.dispatched_at IS NULL AND v.deleted_at IS NULL
                      AND coalesce(c.definition #>> '{{providers,tts,provider}}', 'piper') = 'piper'
                    GROUP BY 1
                ) g
                ORDER BY g.latest DESC NULLS LAST
                LIMIT max_rows
            $$""",
        f"REVOKE ALL ON FUNCTION {s}.invited_greetings(integer) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {s}.invited_greetings(integer) TO {role}",
    ]
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    s = context.config.attributes["schema"]
    for sql in (
        f"DROP FUNCTION IF EXISTS {s}.invited_greetings(integer)",
        f"DROP POLICY IF EXISTS owner_reads ON {s}.voice_config_versions",
        f"DROP FUNCTION IF EXISTS {s}.sessions_past_deadline(integer)",
        f"ALTER TABLE {s}.voice_org_settings DROP COLUMN IF EXISTS max_concurrent_interviews",
        f"DROP INDEX IF EXISTS {s}.voice_sessions_running",
        f"DROP INDEX IF EXISTS {s}.voice_sessions_deadline",
        f"ALTER TABLE {s}.voice_sessions DROP COLUMN IF EXISTS dispatch_count, "
        "DROP COLUMN IF EXISTS dispatched_at, DROP COLUMN IF EXISTS join_deadline",
    ):
        op.execute(sql)
