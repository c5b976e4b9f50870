"""Organisation settings (retention days) and candidate erasure receipts.

A receipt holds no personal data: who asked, when, and counts per service; not the email.

Revision ID: 0007
Revises: 0006
"""

from alembic import context, op

from voice_shared.db import tenant_policy_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    s = context.config.attributes["schema"]
    role = context.config.attributes["app_role"]
    statements = [
        f"""CREATE TABLE {s}.voice_org_settings (
            org_id uuid PRIMARY KEY,
            retention_days integer NOT NULL CHECK (retention_days BETWEEN 1 AND 3650),
            updated_by text NOT NULL,
            updated_at timestamptz NOT NULL
        )""",
        *tenant_policy_sql(s, "voice_org_settings", role),
        f"""CREATE TABLE {s}.voice_erasures (
            id uuid PRIMARY KEY,
            org_id uuid NOT NULL,
            requested_by text NOT NULL,
            requested_at timestamptz NOT NULL,
            session_count integer NOT NULL,
            removed jsonb NOT NULL
        )""",
        *tenant_policy_sql(s, "voice_erasures", role),
    ]
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    s = context.config.attributes["schema"]
    op.execute(f"DROP TABLE IF EXISTS {s}.voice_erasures")
    op.execute(f"DROP TABLE IF EXISTS {s}.voice_org_settings")
