-- +goose Up
-- Long-running operations (backups, restores, moves) started through the
-- admin API or tenantctl. They live in the control plane, not in memory, so
-- any appserver instance can report a job another one runs.
CREATE TABLE jobs (
    id           uuid        PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind <> ''),
    tenant       text        NOT NULL,  -- the subdomain when the job started
    status       text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    step         text        NOT NULL DEFAULT '',
    result       jsonb,
    error        text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- heartbeat_at is refreshed while the job runs; a job whose process
    -- died stops refreshing it and is then reported failed.
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
-- At most one unfinished job per tenant: a move must not race a backup.
CREATE UNIQUE INDEX jobs_one_unfinished_per_tenant ON jobs (tenant) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_created_idx ON jobs (created_at);

-- +goose Down
DROP TABLE jobs;
