// Package tenantpool keeps one pgx pool per tenant database: opened lazily
// (once, however many requests arrive together), bounded in number and size,
// closed when idle or least recently used, never under a request that holds
// it, with a per-tenant breaker that fails fast while a database is down.
//
// It imports only pgx and Prometheus and knows tenants by ID and database
// URL only. appserver owns the tenant app's manager (tenantdb leases from
// it, httpapi maps ErrUnavailable to 503); appserver/admin keeps a small one
// for the dashboard's user counts.
package tenantpool
