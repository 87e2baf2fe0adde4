-- +goose Up
-- Schema v1 of every tenant database: users and sessions, and the sales
-- ledger. Locations live in the control plane; location_id columns name one
-- of the tenant's locations there (no cross-database foreign key).
CREATE TABLE users (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text        NOT NULL,
    name          text        NOT NULL DEFAULT '',
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('admin', 'member')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Sessions are stored by the SHA-256 of their token, never the token itself.
CREATE TABLE sessions (
    token_hash bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE customers (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text        NOT NULL CHECK (name <> ''),
    email      text        NOT NULL DEFAULT '',
    phone      text        NOT NULL DEFAULT '',
    address    text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id         uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    sku        text          NOT NULL UNIQUE CHECK (sku <> ''),
    name       text          NOT NULL CHECK (name <> ''),
    price      numeric(14,2) NOT NULL CHECK (price >= 0),
    created_at timestamptz   NOT NULL DEFAULT now()
);

CREATE TABLE invoices (
    id          uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    number      bigint        GENERATED ALWAYS AS IDENTITY UNIQUE,
    customer_id uuid          NOT NULL REFERENCES customers (id),
    location_id uuid,
    status      text          NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'issued', 'paid', 'void')),
    issued_on   date,
    total       numeric(14,2) NOT NULL DEFAULT 0,
    created_at  timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX invoices_issued_idx ON invoices (issued_on, location_id);

CREATE TABLE invoice_lines (
    id         uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    invoice_id uuid          NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    position   integer       NOT NULL,
    product_id uuid          NOT NULL REFERENCES products (id),
    quantity   numeric(12,3) NOT NULL CHECK (quantity > 0),
    unit_price numeric(14,2) NOT NULL CHECK (unit_price >= 0),
    amount     numeric(14,2) NOT NULL,
    UNIQUE (invoice_id, position)
);

CREATE TABLE expenses (
    id          uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    description text          NOT NULL CHECK (description <> ''),
    amount      numeric(14,2) NOT NULL CHECK (amount >= 0),
    spent_on    date          NOT NULL,
    location_id uuid,
    created_at  timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX expenses_spent_idx ON expenses (spent_on, location_id);

-- +goose Down
DROP TABLE expenses;
DROP TABLE invoice_lines;
DROP TABLE invoices;
DROP TABLE products;
DROP TABLE customers;
DROP TABLE sessions;
DROP TABLE users;
