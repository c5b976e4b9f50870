"""Analytics versions (one current per session), reviews, erased sessions; outbox and inbox.

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
        f"""CREATE TABLE {s}.analytics (
            id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            session_id uuid NOT NULL,
            version integer NOT NULL CHECK (version >= 1),
            current boolean NOT NULL DEFAULT false,
            status text NOT NULL CHECK (status IN ('scored', 'failed')),
            error text,
            trigger text NOT NULL CHECK (trigger IN ('transcript', 'revision', 'rescore')),
            requested_by text,
            overall_score double precision CHECK (overall_score BETWEEN 0 AND 100),
            result jsonb,
            provenance jsonb NOT NULL,
            transcript_revision integer NOT NULL CHECK (transcript_revision >= 1),
            config_id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (session_id, version),
            CHECK ((status = 'scored') = (result IS NOT NULL AND overall_score IS NOT NULL))
        )""",
        f"CREATE UNIQUE INDEX analytics_one_current ON {s}.analytics (session_id) WHERE current",
        f"CREATE INDEX analytics_org_config ON {s}.analytics (org_id, config_id) WHERE current",
        *tenant_policy_sql(s, "analytics", role),
        f"""CREATE TABLE {s}.reviews (
            id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            session_id uuid NOT NULL,
            analytics_id uuid NOT NULL REFERENCES {s}.analytics (id) ON DELETE CASCADE,
            reviewer text NOT NULL,
            criteria jsonb NOT NULL,
            decision text CHECK (decision IN ('advance', 'hold', 'reject')),
            note text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now()
        )""",
        f"CREATE INDEX reviews_session ON {s}.reviews (session_id, created_at)",
        *tenant_policy_sql(s, "reviews", role),
        f"""CREATE TABLE {s}.erased_sessions (
            session_id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            erased_at timestamptz NOT NULL DEFAULT now()
        )""",
        *tenant_policy_sql(s, "erased_sessions", role),
        *outbox_ddl(s, role),
    ]
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    s = context.config.attributes["schema"]
    for table in ("reviews", "analytics", "erased_sessions", "outbox", "inbox"):
        op.execute(f"DROP TABLE IF EXISTS {s}.{table} CASCADE")
