// Package tenantdb gives a tenant request its database: a lease on the
// tenant's pool taken on first use and released when the request ends, and
// the tenant app's one error writer, which opens the tenant's breaker when
// its database fails under an open pool. It imports tenantpool, httpapi,
// reqctx and tenantstore; appserver (the token middleware) and
// appserver/sales use it.
package tenantdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// DSNFunc returns the database URL of a tenant as the resolver returned it.
type DSNFunc func(ctx context.Context, t *tenantstore.Tenant) (string, error)

// Source hands tenant requests their database from a pool manager.
type Source struct {
	pools *tenantpool.Manager
	dsn   DSNFunc
	log   *slog.Logger
}

// NewSource returns a Source over pools; dsn finds each tenant's database
// URL, log receives the errors WriteError logs.
func NewSource(pools *tenantpool.Manager, dsn DSNFunc, log *slog.Logger) *Source {
	return &Source{pools: pools, dsn: dsn, log: log}
}

type ctxKey struct{}

// holder holds the request's pool lease, acquired on first use.
type holder struct {
	lease *tenantpool.Lease
}

// Begin prepares ctx, whose tenant reqctx carries, for a lazily acquired
// lease; call release when the request ends.
func (s *Source) Begin(ctx context.Context) (_ context.Context, release func()) {
	h := &holder{}
	return context.WithValue(ctx, ctxKey{}, h), func() {
		if h.lease != nil {
			h.lease.Release()
		}
	}
}

// Pool returns the pool of the request's tenant, opening it on first use.
// The pool stays leased (never closed under the request) until the request
// ends.
func (s *Source) Pool(r *http.Request) (*pgxpool.Pool, error) {
	h, _ := r.Context().Value(ctxKey{}).(*holder)
	t := reqctx.Tenant(r.Context())
	if h == nil || t == nil {
		return nil, fmt.Errorf("no tenant in request context")
	}
	if h.lease != nil {
		return h.lease.Pool(), nil
	}
	dsn, err := s.dsn(r.Context(), t)
	if err != nil {
		return nil, fmt.Errorf("database URL of tenant %s: %w", t.Subdomain, err)
	}
	l, err := s.pools.Acquire(r.Context(), t.ID, dsn)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.Subdomain, err)
	}
	h.lease = l
	return l.Pool(), nil
}

// WriteError answers err in the JSON format of SPEC §7 and logs faults of
// ours once, with the request's logger. It is the tenant listener's error
// writer.
func (s *Source) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	ae, internal := httpapi.ErrorFor(err)
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	if internal {
		reqctx.Logger(r.Context(), s.log).ErrorContext(r.Context(), "request failed", slog.String("error", err.Error()))
	} else if ae.Status == http.StatusServiceUnavailable {
		if ae.RetryAfter <= 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(s.pools.BreakerRetry().Seconds())))
		}
		s.TripOnConnectError(r, err)
		reqctx.Logger(r.Context(), s.log).WarnContext(r.Context(), "service unavailable", slog.String("code", ae.Code), slog.String("error", err.Error()))
	}
	httpapi.WriteError(w, ae)
}

// TripOnConnectError opens the tenant's breaker when err is a failure to
// connect to its database under an already open pool, so that the tenant's
// next requests fail fast instead of each waiting for a connect timeout. A
// connect abandoned because the client went away does not count. Handlers
// that write their own errors (pages) call it too.
func (s *Source) TripOnConnectError(r *http.Request, err error) {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) || r.Context().Err() != nil || errors.Is(err, context.Canceled) {
		return
	}
	if t := reqctx.Tenant(r.Context()); t != nil {
		s.pools.Trip(t.ID, err)
	}
}
