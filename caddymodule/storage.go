package caddymodule

// The edge's certificate storage, caddy.storage.postgres (package
// pgstorage, SPEC §10), comes with the tenant modules: a binary that has
// them can share certificates, the ACME account, the internal CA and locks
// with the other edges of the fleet through the control-plane database.
import _ "github.com/tenantgate/tenantgate/caddymodule/pgstorage"
