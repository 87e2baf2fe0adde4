// Package reqctx holds the request-scoped values the appserver's middleware
// sets and its rooms read: the tenant a verified token names, and the fields
// and logger of the request's one log line. It imports only tenantstore;
// appserver, tenantdb and the rooms (sales, admin) use it.
package reqctx

import (
	"context"
	"log/slog"

	"github.com/tenantgate/tenantgate/tenantstore"
)

type ctxKey int

const (
	tenantKey ctxKey = iota
	infoKey
)

// WithTenant returns ctx carrying t, the tenant of a verified token.
func WithTenant(ctx context.Context, t *tenantstore.Tenant) context.Context {
	return context.WithValue(ctx, tenantKey, t)
}

// Tenant returns the tenant the request's verified token names, or nil
// outside the tenant routes.
func Tenant(ctx context.Context) *tenantstore.Tenant {
	t, _ := ctx.Value(tenantKey).(*tenantstore.Tenant)
	return t
}

// Info is filled as the request goes through the middleware, for the one
// log line written at its end.
type Info struct {
	ID     string
	Tenant string
	User   string
	// TenantID and InvoicesCreated feed the usage figures (SPEC §13).
	TenantID        string
	InvoicesCreated int
	// Log is the request's logger: the request id, then the tenant.
	Log *slog.Logger
}

// WithInfo returns ctx carrying the request's log info.
func WithInfo(ctx context.Context, ri *Info) context.Context {
	return context.WithValue(ctx, infoKey, ri)
}

// Logger returns the request's logger, or fallback outside a request.
func Logger(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if ri, ok := ctx.Value(infoKey).(*Info); ok && ri.Log != nil {
		return ri.Log
	}
	return fallback
}

// SetTenant records the request's tenant for its log line and logger.
func SetTenant(ctx context.Context, subdomain string) {
	if ri, ok := ctx.Value(infoKey).(*Info); ok {
		ri.Tenant = subdomain
		ri.Log = ri.Log.With(slog.String("tenant", subdomain))
	}
}

// SetUser records the request's logged-in user for its log line.
func SetUser(ctx context.Context, userID string) {
	if ri, ok := ctx.Value(infoKey).(*Info); ok {
		ri.User = userID
	}
}

// SetTenantID records the id of the request's tenant, for the usage
// figures.
func SetTenantID(ctx context.Context, id string) {
	if ri, ok := ctx.Value(infoKey).(*Info); ok {
		ri.TenantID = id
	}
}

// InvoiceCreated counts an invoice the request created, for the usage
// figures.
func InvoiceCreated(ctx context.Context) {
	if ri, ok := ctx.Value(infoKey).(*Info); ok {
		ri.InvoicesCreated++
	}
}
