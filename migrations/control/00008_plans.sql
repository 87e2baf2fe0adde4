-- +goose Up
-- Plans and feature flags (SPEC §13). A plan names a user limit, limits at
-- the edge (NULL: the edge's default) and features ({"<feature>": bool};
-- a feature a plan does not name is on). Exactly one plan is the default,
-- the plan of a tenant created without one. Seeded: free (5 users, a low
-- rate, no expenses, reports or locations), standard (the default: 50
-- users, the edge's limits, every feature; existing tenants are put on it,
-- so nothing they had changes) and enterprise (1000 users, every feature).
-- The limit bounds are tenants' (00005).
CREATE TABLE plans (
    name                text             PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
    max_users           integer          NOT NULL CHECK (max_users BETWEEN 1 AND 1000000),
    limit_rate          double precision CHECK (limit_rate >= 0.01 AND limit_rate <= 1000000),
    limit_burst         integer          CHECK (limit_burst BETWEEN 1 AND 1000000),
    limit_max_in_flight integer          CHECK (limit_max_in_flight BETWEEN 1 AND 1000000),
    features            jsonb            NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(features) = 'object'),
    is_default          boolean          NOT NULL DEFAULT false,
    created_at          timestamptz      NOT NULL DEFAULT now(),
    updated_at          timestamptz      NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX plans_one_default ON plans (is_default) WHERE is_default;
INSERT INTO plans (name, max_users, limit_rate, limit_burst, limit_max_in_flight, features, is_default) VALUES
    ('free', 5, 5, 20, 16, '{"expenses": false, "reports": false, "locations": false}', false),
    ('standard', 50, NULL, NULL, NULL, '{"expenses": true, "reports": true, "locations": true}', true),
    ('enterprise', 1000, NULL, NULL, NULL, '{"expenses": true, "reports": true, "locations": true}', false);

-- A tenant's plan, and its own feature overrides (a feature it names wins
-- over the plan's). max_users becomes the tenant's own user limit: NULL
-- means the plan's. Existing tenants keep the value they had, as their own.
ALTER TABLE tenants
    ADD COLUMN plan     text  NOT NULL DEFAULT 'standard' REFERENCES plans (name),
    ADD COLUMN features jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(features) = 'object'),
    ALTER COLUMN max_users DROP NOT NULL,
    ALTER COLUMN max_users DROP DEFAULT;
CREATE INDEX tenants_plan_idx ON tenants (plan);

-- +goose Down
UPDATE tenants t SET max_users = p.max_users FROM plans p WHERE t.max_users IS NULL AND p.name = t.plan;
ALTER TABLE tenants DROP COLUMN features, DROP COLUMN plan,
    ALTER COLUMN max_users SET DEFAULT 50, ALTER COLUMN max_users SET NOT NULL;
DROP TABLE plans;
