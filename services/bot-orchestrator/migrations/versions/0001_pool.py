"""The warm pool: every bot heard from, every dispatched session's trip to a bot, the schedule; outbox, inbox.

Platform tables, not a tenant's: they hold ids and times only (no names, no transcripts), and are read
by the orchestrator (across orgs: the queue is one for the whole platform) and by platform admins.

Revision ID: 0001
Revises:
"""

from alembic import context, op

from voice_shared.outbox import outbox_ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    s = context.config.attributes["schema"]
    role = context.config.attributes["app_role"]
    statements = [
        f"""CREATE TABLE {s}.bot_instances (
            id text PRIMARY KEY,
            backend text NOT NULL,
            state text NOT NULL CHECK (state IN ('starting', 'idle', 'busy', 'draining', 'lost', 'gone')),
            session_id uuid,
            org_id uuid,
            started_at timestamptz NOT NULL,
            warm_at timestamptz,
            last_seen_at timestamptz,
            interviews_served integer NOT NULL DEFAULT 0 CHECK (interviews_served >= 0),
            rss_bytes bigint NOT NULL DEFAULT 0 CHECK (rss_bytes >= 0),
            ended_at timestamptz,
            end_reason text
        )""",
        f"CREATE INDEX bot_instances_live ON {s}.bot_instances (started_at) WHERE ended_at IS NULL",
        f"CREATE INDEX bot_instances_recent ON {s}.bot_instances (started_at DESC)",
        f"""CREATE TABLE {s}.bot_assignments (
            session_id uuid NOT NULL,
            attempt integer NOT NULL CHECK (attempt >= 1),
            org_id uuid NOT NULL,
            dispatched_at timestamptz NOT NULL,
            picked_at timestamptz,
            bot_id text,
            joined_at timestamptz,
            ended_at timestamptz,
            outcome text,
            PRIMARY KEY (session_id, attempt)
        )""",
        f"CREATE INDEX bot_assignments_waiting ON {s}.bot_assignments (dispatched_at) "
        "WHERE picked_at IS NULL AND ended_at IS NULL",
        f"CREATE INDEX bot_assignments_recent ON {s}.bot_assignments (dispatched_at DESC)",
        f"""CREATE TABLE {s}.pool_schedule (
            id integer PRIMARY KEY CHECK (id = 1),
            schedule jsonb NOT NULL,
            updated_by text NOT NULL,
            updated_at timestamptz NOT NULL
        )""",
        *(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {s}.{t} TO {role}"
          for t in ("bot_instances", "bot_assignments", "pool_schedule")),
        *outbox_ddl(s, role),
    ]
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    s = context.config.attributes["schema"]
    for table in ("bot_instances", "bot_assignments", "pool_schedule", "outbox", "inbox"):
        op.execute(f"DROP TABLE IF EXISTS {s}.{table} CASCADE")
