"""What session-svc knows of each session's current analytics (from analytics.completed): the
filters and scores of lists.

Revision ID: 0008
Revises: 0007
"""

from alembic import context, op

from voice_shared.db import tenant_policy_sql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    s = context.config.attributes["schema"]
    role = context.config.attributes["app_role"]
    statements = [
        f"""CREATE TABLE {s}.voice_session_analytics (
            session_id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            analytics_id uuid NOT NULL,
            overall_score double precision NOT NULL CHECK (overall_score BETWEEN 0 AND 100),
            scorer text NOT NULL,
            scored_at timestamptz NOT NULL
        )""",
        *tenant_policy_sql(s, "voice_session_analytics", role),
    ]
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    op.execute(f"DROP TABLE IF EXISTS {context.config.attributes['schema']}.voice_session_analytics")
