-- +goose Up
-- A tenant's own limits at the edge (SPEC §11): requests per second
-- (fractions allowed), burst and requests in flight. NULL means the edge's
-- default from the global tenant block. The bounds are the admin API's,
-- repeated here so no writer can store what the edge would misread.
ALTER TABLE tenants
    ADD COLUMN limit_rate          double precision CHECK (limit_rate >= 0.01 AND limit_rate <= 1000000),
    ADD COLUMN limit_burst         integer          CHECK (limit_burst BETWEEN 1 AND 1000000),
    ADD COLUMN limit_max_in_flight integer          CHECK (limit_max_in_flight BETWEEN 1 AND 1000000);

-- +goose Down
ALTER TABLE tenants DROP COLUMN limit_max_in_flight, DROP COLUMN limit_burst, DROP COLUMN limit_rate;
