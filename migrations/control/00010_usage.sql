-- +goose Up
-- Usage figures per tenant (SPEC §13). Edges and appservers count in memory
-- and add their counts to the row of each minute at most every 10 s, so
-- the counters of several processes add up; database_bytes is a sample
-- (the largest of the minute), active_user_ids the distinct users seen in
-- the minute by any appserver (cleared once the minute is rolled up, its
-- count stays in active_users). latency_buckets is the edge's histogram
-- (internal/latency: fixed log-spaced buckets, added bucket by bucket).
-- No foreign key to tenants: a flush must not fail because one tenant of
-- its rows was deleted meanwhile; retention removes their rows.
CREATE TABLE usage_minute (
    tenant_id        uuid        NOT NULL,
    minute           timestamptz NOT NULL,
    requests         bigint      NOT NULL DEFAULT 0,
    status_2xx       bigint      NOT NULL DEFAULT 0,
    status_3xx       bigint      NOT NULL DEFAULT 0,
    status_4xx       bigint      NOT NULL DEFAULT 0,
    status_5xx       bigint      NOT NULL DEFAULT 0,
    rate_limited     bigint      NOT NULL DEFAULT 0,
    bytes_out        bigint      NOT NULL DEFAULT 0,
    latency_buckets  bigint[]    NOT NULL DEFAULT '{}',
    invoices_created bigint      NOT NULL DEFAULT 0,
    active_users     integer     NOT NULL DEFAULT 0,
    active_user_ids  text[],
    database_bytes   bigint,
    PRIMARY KEY (tenant_id, minute)
);
CREATE INDEX usage_minute_minute ON usage_minute (minute);

-- The hours, rolled up from usage_minute: sums, the histogram added bucket
-- by bucket, and the largest active_users and database_bytes of a minute.
CREATE TABLE usage_hour (
    tenant_id        uuid        NOT NULL,
    hour             timestamptz NOT NULL,
    requests         bigint      NOT NULL DEFAULT 0,
    status_2xx       bigint      NOT NULL DEFAULT 0,
    status_3xx       bigint      NOT NULL DEFAULT 0,
    status_4xx       bigint      NOT NULL DEFAULT 0,
    status_5xx       bigint      NOT NULL DEFAULT 0,
    rate_limited     bigint      NOT NULL DEFAULT 0,
    bytes_out        bigint      NOT NULL DEFAULT 0,
    latency_buckets  bigint[]    NOT NULL DEFAULT '{}',
    invoices_created bigint      NOT NULL DEFAULT 0,
    active_users     integer     NOT NULL DEFAULT 0,
    database_bytes   bigint,
    PRIMARY KEY (tenant_id, hour)
);
CREATE INDEX usage_hour_hour ON usage_hour (hour);

-- Where the rollup has got to: every hour before rolled_until is in
-- usage_hour (readers take later hours from usage_minute); ran_at lets the
-- other processes skip a round one of them has just done.
CREATE TABLE usage_rollup (
    singleton    boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    rolled_until timestamptz NOT NULL,
    ran_at       timestamptz NOT NULL
);

-- +goose Down
DROP TABLE usage_rollup;
DROP TABLE usage_hour;
DROP TABLE usage_minute;
