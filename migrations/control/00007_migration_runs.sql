-- +goose Up
-- Fleet migrations (`tenantctl migrate`, SPEC §12): one row per rollout and
-- one per tenant it covers, so a stopped or failed rollout can be resumed
-- (`migrate --resume`) retrying only the tenants that did not succeed.
CREATE TABLE migration_runs (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The newest tenant migration when the run started; a resume with other
    -- migrations is refused (start a new run instead).
    target_version bigint      NOT NULL,
    -- running: in progress (or its process died: no one holds the rollout
    -- lock); succeeded: every tenant ok or skipped; failed: every tenant
    -- attempted, some failed; stopped: the canary failed, --max-failures was
    -- reached or the run was interrupted, so some are still pending.
    state          text        NOT NULL CHECK (state IN ('running', 'succeeded', 'failed', 'stopped')),
    stop_reason    text        NOT NULL DEFAULT '',
    options        jsonb       NOT NULL DEFAULT '{}',  -- canary, max_failures, parallel
    started_at     timestamptz NOT NULL DEFAULT now(),
    resumed_at     timestamptz,                      -- the latest --resume
    resumes        integer     NOT NULL DEFAULT 0,
    finished_at    timestamptz
);
CREATE INDEX migration_runs_started_idx ON migration_runs (started_at DESC, id DESC);

-- tenant_id is no foreign key: the history outlives a deleted tenant, and a
-- resume marks a tenant that no longer exists skipped.
CREATE TABLE migration_run_tenants (
    run_id       bigint      NOT NULL REFERENCES migration_runs (id) ON DELETE CASCADE,
    tenant_id    uuid        NOT NULL,
    subdomain    text        NOT NULL,  -- when the run started
    position     integer     NOT NULL,  -- the order tenants are started in (canaries first)
    canary       boolean     NOT NULL DEFAULT false,
    state        text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'ok', 'failed', 'skipped')),
    from_version bigint,
    to_version   bigint,
    applied      integer     NOT NULL DEFAULT 0,
    error        text        NOT NULL DEFAULT '',  -- never holds a password (redacted)
    attempts     integer     NOT NULL DEFAULT 0,
    started_at   timestamptz,                      -- of the latest attempt
    finished_at  timestamptz,
    PRIMARY KEY (run_id, tenant_id)
);
CREATE INDEX migration_run_tenants_state_idx ON migration_run_tenants (run_id, state);

-- +goose Down
DROP TABLE migration_run_tenants;
DROP TABLE migration_runs;
