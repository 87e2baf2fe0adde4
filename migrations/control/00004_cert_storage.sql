-- +goose Up
-- Certificate storage shared by every edge (SPEC §10, caddy.storage.postgres):
-- certificates, private keys, the ACME account, the internal CA and OCSP
-- staples, under certmagic's slash-separated keys.
CREATE TABLE cert_storage (
    -- COLLATE "C" makes the primary-key index usable for the byte-wise
    -- range scans that List, Stat, Exists and Delete do on key prefixes.
    key      text        COLLATE "C" PRIMARY KEY CHECK (key <> ''),
    value    bytea       NOT NULL,
    -- key_id names the encryption key of value ('' = stored in the clear),
    -- so a key can be rotated while older rows stay readable.
    key_id   text        NOT NULL DEFAULT '',
    size     bigint      NOT NULL,  -- length of the plaintext value
    modified timestamptz NOT NULL DEFAULT now()
);

-- certmagic's distributed locks. A row is one held lock; it is taken
-- atomically (INSERT … ON CONFLICT … WHERE expired), kept alive by its holder
-- refreshing expires_at, and taken over by another edge once it expires.
-- Times come from the database clock, never an edge's.
CREATE TABLE cert_storage_locks (
    name        text        PRIMARY KEY,
    owner       text        NOT NULL,  -- the storage instance (edge process)
    token       text        NOT NULL,  -- one acquisition
    acquired_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE cert_storage_locks;
DROP TABLE cert_storage;
