// Package appserver is the tenant-facing server behind the edge (SPEC §7):
// it verifies the signed X-Tenant-Token and composes the rooms below it
// into two listeners. routes.go is the one place that lists every route
// group: health, the sales room's API and pages (appserver/sales) behind the
// token, and the admin room (appserver/admin) on the admin listener.
//
// A tenant request passes: request id and log line (withRequestLog) → token
// check against the request Host, tenant by ID from the resolver, active
// status (requireTenant) → Origin check of unsafe methods (checkOrigin) →
// the sales room (session, then handler). The handler asks tenantdb for the
// tenant's pool, which tenantpool opens on first use and keeps leased until
// the request ends. Handlers return errors; httpapi.ErrorFor is the one
// mapping from errors to statuses and codes.
//
// Below appserver, imports point down only: sales and admin use the shared
// packages httpapi, reqctx, clientinfo, tenantdb, webpage and tenantpool,
// never appserver nor each other (scripts/layering.sh checks it).
package appserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantgate/tenantgate/appserver/admin"
	"github.com/tenantgate/tenantgate/appserver/brandlogo"
	"github.com/tenantgate/tenantgate/appserver/clientinfo"
	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
	"github.com/tenantgate/tenantgate/appserver/sales"
	"github.com/tenantgate/tenantgate/appserver/tenantdb"
	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/internal/loginlimit"
	"github.com/tenantgate/tenantgate/internal/meter"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// Defaults of Config.
const (
	DefaultTokenCacheSize = 4096
	DefaultBaseDomain     = "localhost"
)

// TokenVerifier checks an X-Tenant-Token against the request host;
// *tenanttoken.Verifier implements it.
type TokenVerifier interface {
	Verify(token, host string, now time.Time) (tenanttoken.Claims, error)
}

// TenantResolver finds a tenant by ID; *resolver.Resolver implements it.
// Returned tenants are shared and must not be modified.
type TenantResolver interface {
	ResolveID(ctx context.Context, id string) (*tenantstore.Tenant, error)
}

// LocationLister lists a tenant's locations; *tenantstore.Store implements
// it. The sales room reads them.
type LocationLister = sales.LocationLister

// Config wires a Server. Verifier, Tenants, Locations and DSN are required.
type Config struct {
	Verifier  TokenVerifier
	Tenants   TenantResolver
	Locations LocationLister
	// DSN returns the database URL of a tenant as Tenants returned it. The
	// resolver's tenants carry no secret, so cmd/appserver passes
	// resolver.DatabaseURLs.URL, which reads the URL from the control plane
	// by tenant id and keeps it in memory by id and version.
	DSN func(ctx context.Context, t *tenantstore.Tenant) (string, error)
	// Logos reads tenants' logos from the control plane for GET
	// /branding/logo (*tenantstore.Store implements it); nil serves none.
	Logos brandlogo.Source
	// Pools configures the per-tenant pool manager.
	Pools tenantpool.Config
	// Impersonations consumes the admin API's impersonation links on the
	// tenant's host (*tenantstore.Store); nil disables them.
	Impersonations sales.Impersonations
	// BaseDomain is BASE_DOMAIN: a token's host claim must be
	// <subdomain>.<BaseDomain> or a verified custom domain of its tenant.
	// DefaultBaseDomain when empty.
	BaseDomain string
	// Ready reports whether the control plane and Redis are reachable, for
	// /readyz; nil means always ready.
	Ready func(ctx context.Context) error
	// Logger receives the request log (JSON); slog.Default() when nil.
	Logger *slog.Logger
	// Registry receives the server's metrics (serve it with
	// MetricsHandler); a new registry when nil.
	Registry *prometheus.Registry
	// Admin, when set, is the admin room (API, OpenAPI document,
	// dashboard), mounted on the admin listener after /healthz and /readyz.
	Admin *admin.Server
	// BcryptCost is the cost of password hashes; bcrypt.DefaultCost when 0.
	BcryptCost int
	// SessionLifetime is how long a login lasts; sales.DefaultSessionLifetime
	// when 0.
	SessionLifetime time.Duration
	// TokenCacheSize bounds the cache of verified tenant tokens.
	TokenCacheSize int
	// LoginLimiter throttles logins (SPEC §9); nil means one in process
	// memory only (never no limit). cmd/appserver shares one through Redis.
	LoginLimiter *loginlimit.Limiter
	// TrustedProxies are the peers (the edge) whose X-Forwarded-For and
	// X-Forwarded-Proto are believed; clientinfo.DefaultTrustedProxies when nil.
	TrustedProxies []netip.Prefix
	// Usage, when set, counts each tenant's active users (the distinct
	// users with a session seen per minute) and invoices created, for the
	// usage figures (SPEC §13); the caller flushes it.
	Usage *meter.App
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Server is the appserver: AppHandler serves tenants, AdminHandler the
// operators. Close releases its pools.
type Server struct {
	cfg      Config
	log      *slog.Logger
	pools    *tenantpool.Manager
	tenantDB *tenantdb.Source
	tokens   *tokenCache
	registry *prometheus.Registry
	metrics  *httpMetrics
	sales    *sales.Server
	logos    *brandlogo.Handler // nil without Config.Logos
	now      func() time.Time
}

// New checks cfg and builds a Server with its pool manager.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Verifier == nil:
		return nil, errors.New("appserver: Config.Verifier is required")
	case cfg.Tenants == nil:
		return nil, errors.New("appserver: Config.Tenants is required")
	case cfg.Locations == nil:
		return nil, errors.New("appserver: Config.Locations is required")
	case cfg.DSN == nil:
		return nil, errors.New("appserver: Config.DSN is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.TokenCacheSize <= 0 {
		cfg.TokenCacheSize = DefaultTokenCacheSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BaseDomain == "" {
		cfg.BaseDomain = DefaultBaseDomain
	}
	cfg.BaseDomain = strings.ToLower(strings.TrimSuffix(cfg.BaseDomain, "."))
	if cfg.Pools.Now == nil {
		cfg.Pools.Now = cfg.Now
	}
	if cfg.TrustedProxies == nil {
		cfg.TrustedProxies = clientinfo.DefaultTrustedProxies
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		pools:    tenantpool.New(cfg.Pools),
		tokens:   newTokenCache(cfg.TokenCacheSize),
		registry: cfg.Registry,
		now:      cfg.Now,
	}
	s.tenantDB = tenantdb.NewSource(s.pools, cfg.DSN, s.log)
	var err error
	s.sales, err = sales.New(sales.Config{
		DB: s.tenantDB, Locations: cfg.Locations, Logger: s.log, BcryptCost: cfg.BcryptCost,
		SessionLifetime: cfg.SessionLifetime, LoginLimiter: cfg.LoginLimiter, TrustedProxies: cfg.TrustedProxies, Now: cfg.Now,
		Impersonations: cfg.Impersonations,
	})
	if err != nil {
		s.pools.Close()
		return nil, err
	}
	if cfg.Logos != nil {
		if s.logos, err = brandlogo.New(cfg.Logos, 0, s.writeError); err != nil {
			s.pools.Close()
			return nil, err
		}
	}
	if err := s.registerMetrics(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Pools returns the server's pool manager.
func (s *Server) Pools() *tenantpool.Manager { return s.pools }

// TenantChanged closes the tenant's pool so the next request reopens it with
// the current database URL; pass it to the resolver's OnChange. A plan
// change (PlanOnly) keeps the pools: it may name thousands of tenants, and
// none of their databases moved.
func (s *Server) TenantChanged(c tenantstore.Change) {
	if c.TenantID != "" && !c.PlanOnly {
		s.pools.Invalidate(c.TenantID)
	}
}

// Close closes the tenant pools (those in use when their requests end) and
// the logo cache.
func (s *Server) Close() {
	s.pools.Close()
	if s.logos != nil {
		s.logos.Close()
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			reqctx.Logger(r.Context(), s.log).WarnContext(r.Context(), "not ready", slog.String("error", err.Error()))
			httpapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]*httpapi.Error{"error": {Code: "not_ready", Message: err.Error()}})
			return
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
