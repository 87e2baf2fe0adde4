-- +goose Up
-- Branding (SPEC §13): what the tenant's pages show instead of the bare
-- tenant name. The small fields live on tenants so the resolver's one
-- lookup carries them (and the logo's hash, for its URL and ETag); the
-- logo's bytes (up to 256 KB) live in their own table so that no tenant
-- lookup or update ever reads or rewrites them.
ALTER TABLE tenants
    ADD COLUMN display_name      text NOT NULL DEFAULT '',
    ADD COLUMN primary_color     text NOT NULL DEFAULT ''
        CHECK (primary_color = '' OR primary_color ~ '^#[0-9a-f]{6}$'),
    ADD COLUMN logo_sha256       text NOT NULL DEFAULT ''
        CHECK (logo_sha256 = '' OR logo_sha256 ~ '^[0-9a-f]{64}$'),
    ADD COLUMN logo_content_type text NOT NULL DEFAULT ''
        CHECK (logo_content_type IN ('', 'image/png', 'image/svg+xml'));

CREATE TABLE tenant_logos (
    tenant_id    uuid        PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    content_type text        NOT NULL CHECK (content_type IN ('image/png', 'image/svg+xml')),
    sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    data         bytea       NOT NULL CHECK (octet_length(data) <= 262144),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE tenant_logos;
ALTER TABLE tenants
    DROP COLUMN logo_content_type,
    DROP COLUMN logo_sha256,
    DROP COLUMN primary_color,
    DROP COLUMN display_name;
