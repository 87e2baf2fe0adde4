-- +goose Up
-- The audit trail (SPEC §13): one row per change made through the admin
-- API, the dashboard or tenantctl. Append-only: the triggers below refuse
-- UPDATE, DELETE and TRUNCATE whoever the caller is, so not even the
-- application's own role can rewrite history (only a migration that drops
-- the triggers could). tenant_id is no foreign key: the trail outlives a
-- deleted tenant; subdomain is the tenant's at the time.
CREATE TABLE audit_log (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_kind text        NOT NULL,   -- admin-token, dashboard, tenantctl, system
    actor_id   text        NOT NULL DEFAULT '',  -- tok_<sha256 prefix> or the OS user, never a secret
    source_ip  text        NOT NULL DEFAULT '',
    action     text        NOT NULL,   -- tenant.create, tenant.update, domain.add, impersonate.issue…
    tenant_id  uuid,
    subdomain  text        NOT NULL DEFAULT '',
    before     jsonb,
    after      jsonb
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id DESC);
CREATE INDEX audit_log_subdomain_idx ON audit_log (subdomain, id DESC);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Impersonation links (SPEC §13): the SHA-256 of a random 32-byte token,
-- never the token; consumed once (used_at) before expires_at, on the
-- tenant's own host only. Who issued it is kept for the audit of its use.
CREATE TABLE impersonation_tokens (
    token_hash bytea       PRIMARY KEY,
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email      text        NOT NULL,
    actor_kind text        NOT NULL,
    actor_id   text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX impersonation_tokens_expires_idx ON impersonation_tokens (expires_at);

-- +goose Down
DROP TABLE impersonation_tokens;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
