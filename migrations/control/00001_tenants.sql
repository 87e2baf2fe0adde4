-- +goose Up
-- Tenants, their custom domains and their locations: the control plane.
CREATE TABLE tenants (
    id               uuid        PRIMARY KEY,
    name             text        NOT NULL CHECK (name <> ''),
    subdomain        text        NOT NULL,
    admin_email      text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('provisioning', 'active', 'suspended', 'maintenance')),
    max_users        integer     NOT NULL DEFAULT 50 CHECK (max_users >= 1),
    multi_location   boolean     NOT NULL DEFAULT false,
    database_name    text        NOT NULL,
    -- Placement: all empty means "the server of TENANT_DATABASE_TEMPLATE".
    db_url           text        NOT NULL DEFAULT '',   -- secret: may hold a password
    db_host          text        NOT NULL DEFAULT '',
    db_port          integer     NOT NULL DEFAULT 0,
    db_user          text        NOT NULL DEFAULT '',
    db_password_env  text        NOT NULL DEFAULT '',   -- the name of a variable, never the password
    db_role          text        NOT NULL DEFAULT '',
    db_role_password text        NOT NULL DEFAULT '',   -- secret
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    version          bigint      NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX tenants_subdomain_key ON tenants (subdomain);
CREATE UNIQUE INDEX tenants_name_key ON tenants (lower(name));
CREATE INDEX tenants_status_idx ON tenants (status);

CREATE TABLE tenant_domains (
    hostname           text        PRIMARY KEY,
    tenant_id          uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    verified           boolean     NOT NULL DEFAULT false,
    verification_token text        NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    verified_at        timestamptz
);
CREATE INDEX tenant_domains_tenant_idx ON tenant_domains (tenant_id);

CREATE TABLE tenant_locations (
    id         uuid        PRIMARY KEY,
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text        NOT NULL CHECK (name <> ''),
    code       text        NOT NULL CHECK (code <> ''),
    address    text        NOT NULL DEFAULT '',
    active     boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, code)
);

-- +goose Down
DROP TABLE tenant_locations;
DROP TABLE tenant_domains;
DROP TABLE tenants;
