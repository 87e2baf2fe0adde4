-- +goose Up
-- The registry of PostgreSQL servers tenant databases are placed on (SPEC
-- §12). A tenant belongs to the server whose host_key equals its db_server
-- (the normalised lower-case "host:port"; '' is the server of
-- TENANT_DATABASE_TEMPLATE, registered as 'default' with no URL of its own:
-- its URL and credentials are the template's). url holds an operator role
-- of that server WITHOUT a password: the password, when the server needs
-- one, is read from the environment variable named by password_env in every
-- process that provisions (tenantctl, appserver), never stored here.
-- capacity is the most tenants placement puts there; a draining server gets
-- no new tenants (moves away still work).
CREATE TABLE database_servers (
    name         text        PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
    url          text        NOT NULL DEFAULT '',
    password_env text        NOT NULL DEFAULT '',
    host_key     text        NOT NULL,
    capacity     integer     NOT NULL DEFAULT 10000 CHECK (capacity BETWEEN 1 AND 1000000),
    draining     boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((name = 'default') = (host_key = '')),
    CHECK (url !~ '^[a-zA-Z+.-]+://[^/@?]*:[^/@?]*@')
);
CREATE UNIQUE INDEX database_servers_host_key ON database_servers (host_key);
INSERT INTO database_servers (name, host_key) VALUES ('default', '');

-- +goose Down
DROP TABLE database_servers;
