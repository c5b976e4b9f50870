"""Each session's current analytics by version (the highest wins, not the last to arrive), and its
reviews' outcome (from analytics.reviewed): the newest review and the newest decision.

A review may be taken in before its analytics (they come on separate queues), so a row may hold a
review only: its analytics columns are then all null. The rows so far were each a first scoring
(version 1). The table keeps its tenant policy (0008); a new column needs no policy of its own.

Revision ID: 0009
Revises: 0008
"""

from alembic import context, op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLE = "voice_session_analytics"


def upgrade() -> None:
    t = f"{context.config.attributes['schema']}.{TABLE}"
    statements = [
        # The default fills the rows so far (DDL, so Row Level Security does not hide them); then it goes.
        f"ALTER TABLE {t} ADD COLUMN analytics_version integer DEFAULT 1 CHECK (analytics_version >= 1)",
        f"ALTER TABLE {t} ALTER COLUMN analytics_version DROP DEFAULT",
        f"ALTER TABLE {t} ALTER COLUMN analytics_id DROP NOT NULL, ALTER COLUMN overall_score DROP NOT NULL, "
        "ALTER COLUMN scorer DROP NOT NULL, ALTER COLUMN scored_at DROP NOT NULL",
        f"ALTER TABLE {t} ADD CONSTRAINT {TABLE}_scored_together "
        "CHECK (num_nulls(analytics_id, analytics_version, overall_score, scorer, scored_at) IN (0, 5))",
        f"ALTER TABLE {t} ADD COLUMN decision text CHECK (decision IN ('advance', 'hold', 'reject')), "
        "ADD COLUMN decided_at timestamptz, ADD COLUMN reviewer text, ADD COLUMN reviewed_at timestamptz",
        f"ALTER TABLE {t} ADD CONSTRAINT {TABLE}_decided_together CHECK ((decision IS NULL) = (decided_at IS NULL))",
        f"ALTER TABLE {t} ADD CONSTRAINT {TABLE}_reviewed_together CHECK ((reviewer IS NULL) = (reviewed_at IS NULL))",
        f"CREATE INDEX {TABLE}_org_scored ON {t} (org_id, scored_at DESC, session_id DESC)",
    ]
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    s = context.config.attributes["schema"]
    t = f"{s}.{TABLE}"
    statements = [
        # Rows that hold a review only cannot meet 0008's NOT NULLs. The owner removes them in every
        # org: with the policy not forced for this transaction (DDL, undone if it fails).
        f"ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY",
        f"DELETE FROM {t} WHERE analytics_id IS NULL",
        f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY",
        f"DROP INDEX IF EXISTS {s}.{TABLE}_org_scored",
        f"ALTER TABLE {t} DROP CONSTRAINT {TABLE}_scored_together, DROP COLUMN decision, DROP COLUMN decided_at, "
        "DROP COLUMN reviewer, DROP COLUMN reviewed_at, DROP COLUMN analytics_version",
        f"ALTER TABLE {t} ALTER COLUMN analytics_id SET NOT NULL, ALTER COLUMN overall_score SET NOT NULL, "
        "ALTER COLUMN scorer SET NOT NULL, ALTER COLUMN scored_at SET NOT NULL",
    ]
    for sql in statements:
        op.execute(sql)
