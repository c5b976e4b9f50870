"""Provider credentials at org or platform scope, with their secrets stored through a port.

Org rows follow the tenant policy. Platform rows (``org_id`` NULL) are visible only inside a
transaction that sets ``app.platform_scope`` to ``on`` (platform admins, and resolution of a
session's keys, which falls back to them).

Rotating the key-encryption key (``voice rotate-kek``) works across orgs through
``credentials_to_rewrap``, a SECURITY DEFINER function that returns only ids, page by page; the
rotation then re-wraps each row inside its own org's (or the platform's) scope. The function runs
as the owner, which forced Row Level Security lets read the table through the ``owner_reads``
policy; the application role gets nothing from that policy.

Revision ID: 0003
Revises: 0002
"""

from alembic import context, op

from voice_shared.db import TENANT_SETTING

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PLATFORM_SETTING = "app.platform_scope"


def upgrade() -> None:
    s = context.config.attributes["schema"]
    role = context.config.attributes["app_role"]
    tenant = f"nullif(current_setting('{TENANT_SETTING}', true), '')::uuid"
    platform = f"coalesce(current_setting('{PLATFORM_SETTING}', true), '') = 'on'"
    visible = f"(org_id = {tenant} OR (org_id IS NULL AND {platform}))"
    for sql in (
        f"""CREATE TABLE {s}.voice_credentials (
            id uuid PRIMARY KEY,
            org_id uuid,
            scope text NOT NULL CHECK (scope IN ('org', 'platform')),
            service text NOT NULL CHECK (service IN ('daily', 'deepgram', 'cartesia', 'openai')),
            name text NOT NULL,
            backend text NOT NULL,
            secret_ref text,
            ciphertext bytea,
            nonce bytea,
            wrapped_key bytea,
            kek_id text,
            masked text NOT NULL,
            fingerprint text NOT NULL,
            metadata jsonb NOT NULL DEFAULT '{{}}'::jsonb,
            active boolean NOT NULL DEFAULT true,
            last_validated_at timestamptz,
            last_validation_ok boolean,
            last_validation_message text,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CHECK ((scope = 'org') = (org_id IS NOT NULL))
        )""",
        # One active credential per service per scope (the platform scope is the nil uuid here).
        f"""CREATE UNIQUE INDEX voice_credentials_one_active ON {s}.voice_credentials
            (coalesce(org_id, '00000000-0000-0000-0000-000000000000'::uuid), service) WHERE active""",
        f"CREATE INDEX voice_credentials_kek ON {s}.voice_credentials (kek_id)",
        f"ALTER TABLE {s}.voice_credentials ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {s}.voice_credentials FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_or_platform ON {s}.voice_credentials USING {visible} WITH CHECK {visible}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {s}.voice_credentials TO {role}",
        f"CREATE POLICY owner_reads ON {s}.voice_credentials FOR SELECT TO CURRENT_USER USING (true)",
        f"""CREATE FUNCTION {s}.credentials_to_rewrap(target_kek text, after_id uuid, max_rows integer)
            RETURNS TABLE (org_id uuid, credential_id uuid)
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, {s} AS $$
                SELECT c.org_id, c.id FROM {s}.voice_credentials c
                WHERE c.backend = 'local' AND c.kek_id IS DISTINCT FROM target_kek AND c.id > after_id
                ORDER BY c.id
                LIMIT max_rows
            $$""",
        f"REVOKE ALL ON FUNCTION {s}.credentials_to_rewrap(text, uuid, integer) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {s}.credentials_to_rewrap(text, uuid, integer) TO {role}",
    ):
        op.execute(sql)


def downgrade() -> None:
    s = context.config.attributes["schema"]
    op.execute(f"DROP FUNCTION IF EXISTS {s}.credentials_to_rewrap(text, uuid, integer)")
    op.execute(f"DROP TABLE IF EXISTS {s}.voice_credentials CASCADE")
