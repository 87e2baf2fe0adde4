-- +goose Up
-- One database, one tenant (SPEC §9). db_server is the tenant database's
-- server, normalised to lower-case "host:port", or '' for the server of
-- TENANT_DATABASE_TEMPLATE (the binaries write '' for every URL naming that
-- server too); with database_name it is unique, so no two tenants can
-- point at one database. db_owned records that tenantgate created the
-- database for this tenant: only such a database is dropped by
-- `delete --drop-database`.
ALTER TABLE tenants
    ADD COLUMN db_server text    NOT NULL DEFAULT '',
    ADD COLUMN db_owned  boolean NOT NULL DEFAULT false;

-- Template-placed tenants with a login role were provisioned by tenantgate.
UPDATE tenants SET db_owned = true
WHERE db_url = '' AND db_host = '' AND db_port = 0 AND db_user = '' AND db_password_env = '' AND db_role <> '';

-- Host/port placements: the host (127.0.0.1 when empty) and port (5432).
UPDATE tenants
SET db_server = lower(CASE WHEN db_host = '' THEN '127.0.0.1' ELSE db_host END)
        || ':' || CASE WHEN db_port = 0 THEN 5432 ELSE db_port END
WHERE db_url = '' AND (db_host <> '' OR db_port <> 0 OR db_user <> '' OR db_password_env <> '');

-- Explicit URLs: the authority after any user info, with the default port
-- made explicit; the database name is kept in step with the URL's.
UPDATE tenants
SET db_server = CASE WHEN a ~ ':[0-9]+$' THEN a ELSE a || ':5432' END,
    database_name = coalesce(nullif(substring(db_url FROM '^[a-zA-Z+.-]+://[^/?]*/([^?]*)'), ''), database_name)
FROM (SELECT id AS aid, lower(substring(db_url FROM '^[a-zA-Z+.-]+://(?:[^@/?]*@)?([^/?]*)')) AS a FROM tenants WHERE db_url <> '') s
WHERE tenants.id = s.aid;

-- Fails, naming the database, when two tenants already share one: fix them
-- (PATCH database_url, or delete one) and start again.
CREATE UNIQUE INDEX tenants_database_key ON tenants (db_server, database_name);

-- +goose Down
DROP INDEX tenants_database_key;
ALTER TABLE tenants DROP COLUMN db_owned, DROP COLUMN db_server;
