-- +goose Up
-- Schema v2: a user can be deactivated (no login, sessions ended, the row
-- kept for history), and the organization keeps its own settings (the
-- currency its amounts are shown in), one row per key.
ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true;

CREATE TABLE settings (
    key        text        PRIMARY KEY,
    value      text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE settings;
ALTER TABLE users DROP COLUMN active;
