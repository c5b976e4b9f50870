"""Retention and erasure: each org's retention days, and the sessions whose record was removed.

``erased_sessions`` keeps only ids (no personal data), so that a segment or a session end that
arrives after a deletion, an expiry or an erasure does not bring the record back. The sweeper works
across orgs through ``transcripts_past_retention``, a SECURITY DEFINER function that returns only
ids (the owner reads the tables through ``owner_reads`` policies; the application role gets nothing
from them); it then deletes each session's record inside that org's tenant transaction.

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
        f"""CREATE TABLE {s}.retention_policies (
            org_id uuid PRIMARY KEY,
            retention_days integer NOT NULL CHECK (retention_days >= 1),
            updated_at timestamptz NOT NULL DEFAULT now()
        )""",
        *tenant_policy_sql(s, "retention_policies", role),
        f"""CREATE TABLE {s}.erased_sessions (
            session_id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            reason text NOT NULL CHECK (reason IN ('deleted', 'retention', 'erasure')),
            erased_at timestamptz NOT NULL DEFAULT now()
        )""",
        *tenant_policy_sql(s, "erased_sessions", role),
        f"CREATE INDEX transcript_segments_stored ON {s}.transcript_segments (stored_at)",
        *(f"CREATE POLICY owner_reads ON {s}.{t} FOR SELECT TO CURRENT_USER USING (true)"
          for t in ("retention_policies", "transcripts", "transcript_segments")),
        # Transcripts older than their org's retention, and segments of sessions that never got one
        # (the session never ended here) whose newest segment is that old.
        f"""CREATE FUNCTION {s}.sessions_past_retention(default_days integer, max_rows integer)
            RETURNS TABLE (org_id uuid, session_id uuid)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, {s} AS $$
                SELECT t.org_id, t.session_id FROM {s}.transcripts t
                LEFT JOIN {s}.retention_policies p ON p.org_id = t.org_id
                WHERE t.created_at < now() - make_interval(days => coalesce(p.retention_days, default_days))
                UNION
                SELECT g.org_id, g.session_id FROM {s}.transcript_segments g
                LEFT JOIN {s}.retention_policies p ON p.org_id = g.org_id
                WHERE NOT EXISTS (SELECT 1 FROM {s}.transcripts t WHERE t.session_id = g.session_id)
                GROUP BY g.org_id, g.session_id, p.retention_days
                HAVING max(g.stored_at) < now() - make_interval(days => coalesce(p.retention_days, default_days))
                LIMIT max_rows
            $$""",
        f"REVOKE ALL ON FUNCTION {s}.sessions_past_retention(integer, integer) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {s}.sessions_past_retention(integer, integer) TO {role}",
    ]
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    s = context.config.attributes["schema"]
    op.execute(f"DROP FUNCTION IF EXISTS {s}.sessions_past_retention(integer, integer)")
    for t in ("transcripts", "transcript_segments"):
        op.execute(f"DROP POLICY IF EXISTS owner_reads ON {s}.{t}")
    op.execute(f"DROP INDEX IF EXISTS {s}.transcript_segments_stored")
    op.execute(f"DROP TABLE IF EXISTS {s}.erased_sessions")
    op.execute(f"DROP TABLE IF EXISTS {s}.retention_policies")
