// Package admin is the operators' room of the appserver: the admin API
// (tenants, locations, domains, migrations, backups and moves as jobs), its
// OpenAPI document and the HTML dashboard, behind the admin tokens. It goes
// through tenantstore's Manager, the service layer tenantctl uses too. It
// imports the shared packages below it (httpapi, reqctx, clientinfo,
// webpage, tenantpool), never appserver or the sales room; appserver mounts
// it on the admin listener.
package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/clientinfo"
	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/internal/loginlimit"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// web holds the dashboard's templates and the OpenAPI document.
//
//go:embed web
var web embed.FS

// LoginIPRule limits failed dashboard token logins per client IP (SPEC §9).
var LoginIPRule = loginlimit.Rule{Max: 10, Window: 15 * time.Minute}

// loginKeys are the counters of a dashboard token login.
func loginKeys(ip string) []loginlimit.Key {
	return []loginlimit.Key{{Name: "admin:ip:" + clientinfo.IPBucket(ip), Rule: LoginIPRule}}
}

// Defaults of Config.
const (
	DefaultSessionLifetime = 12 * time.Hour
	// databaseStatusTimeout bounds the database check of one tenant.
	databaseStatusTimeout = 3 * time.Second
)

// Config configures the admin API and dashboard (SPEC §7).
type Config struct {
	// Manager is the service layer every admin action goes through, the
	// same one tenantctl uses. Its Store's Notifier invalidates caches
	// fleet-wide after each change. Required.
	Manager *tenantstore.Manager
	// Tokens are the accepted bearer tokens (ADMIN_TOKENS). Required.
	Tokens []string
	// Ops runs backups and moves as jobs; nil answers those routes with
	// 501 not_configured.
	Ops *Ops
	// Metrics, when set, is served at /metrics to holders of an admin
	// token (Prometheus: authorization credentials), never without one:
	// the edge proxies the admin listener to the public admin host.
	Metrics http.Handler
	// Pools configures the small pool manager the dashboard uses to count
	// each tenant's users; zero fields take admin defaults.
	Pools tenantpool.Config
	// SessionLifetime is how long a dashboard login lasts;
	// DefaultSessionLifetime when 0.
	SessionLifetime time.Duration
	// Logger receives errors of the admin handlers; slog.Default() when nil.
	Logger *slog.Logger
	// LoginLimiter throttles the dashboard's token login per client IP
	// (SPEC §9); nil means one in process memory only.
	LoginLimiter *loginlimit.Limiter
	// TrustedProxies are the peers whose X-Forwarded-For is believed;
	// clientinfo.DefaultTrustedProxies when nil.
	TrustedProxies []netip.Prefix
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Server serves the admin API, its OpenAPI document and the dashboard on
// the admin listener; appserver.Config.Admin mounts it there. Close
// releases its pools.
type Server struct {
	cfg    Config
	m      *tenantstore.Manager
	tokens [][sha256.Size]byte // hashes: compared in constant time whatever their length
	pools  *tenantpool.Manager
	log    *slog.Logger
	now    func() time.Time
	csrf   *http.CrossOriginProtection
	limit  *loginlimit.Limiter
	peers  clientinfo.Proxies
}

// New checks cfg and returns the admin API.
func New(cfg Config) (*Server, error) {
	if cfg.Manager == nil {
		return nil, errors.New("admin: Config.Manager is required")
	}
	a := &Server{cfg: cfg, m: cfg.Manager, log: cfg.Logger, now: cfg.Now}
	for _, t := range cfg.Tokens {
		if t = strings.TrimSpace(t); t != "" {
			a.tokens = append(a.tokens, sha256.Sum256([]byte(t)))
		}
	}
	if len(a.tokens) == 0 {
		return nil, errors.New("admin: Config.Tokens is empty; set ADMIN_TOKENS")
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.cfg.SessionLifetime <= 0 {
		a.cfg.SessionLifetime = DefaultSessionLifetime
	}
	a.limit, a.peers = cfg.LoginLimiter, cfg.TrustedProxies
	if a.limit == nil {
		a.limit = loginlimit.New(loginlimit.Config{Now: a.now})
	}
	if a.peers == nil {
		a.peers = clientinfo.DefaultTrustedProxies
	}
	pc := cfg.Pools
	if pc.MaxPools <= 0 {
		pc.MaxPools = 32
	}
	if pc.MaxConns <= 0 {
		pc.MaxConns = 1
	}
	if pc.IdleTimeout <= 0 {
		pc.IdleTimeout = 2 * time.Minute
	}
	a.pools = tenantpool.New(pc)
	// The dashboard's forms are protected twice: Go's CrossOriginProtection
	// refuses unsafe requests a browser marks cross-site (Sec-Fetch-Site, or
	// an Origin of another host), and each form carries a token bound to the
	// session (see csrfToken) for browsers that send neither header.
	a.csrf = http.NewCrossOriginProtection()
	a.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, &httpapi.Error{Status: http.StatusForbidden, Code: "origin_mismatch", Message: "cross-site request refused"})
	}))
	return a, nil
}

// Close releases the dashboard's tenant pools.
func (a *Server) Close() { a.pools.Close() }

// Routes adds the admin API, /api/openapi.json and the dashboard to r.
func (a *Server) Routes(r *mux.Router) {
	r.HandleFunc("/api/openapi.json", serveOpenAPI).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/api/docs", a.serveAPIDocs).Methods(http.MethodGet, http.MethodHead)
	if a.cfg.Metrics != nil {
		r.Handle("/metrics", a.requireToken(a.cfg.Metrics)).Methods(http.MethodGet)
	}

	api := r.PathPrefix("/api").Subrouter()
	api.Use(a.requireToken)
	a.tenantRoutes(api)
	a.locationRoutes(api)
	a.domainRoutes(api)
	a.opsRoutes(api)
	a.serverRoutes(api)
	// Unknown /api paths answer 401 before 404, so nothing is learnt
	// without a token.
	api.NotFoundHandler = a.requireToken(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, httpapi.ErrNotFound)
	}))
	api.MethodNotAllowedHandler = a.requireToken(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, httpapi.ErrMethodNotAllowed)
	}))

	a.dashboardRoutes(r)
}

var errAdminUnauthorized = &httpapi.Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "a valid admin bearer token is required"}

// validToken reports whether token is one of the admin tokens. Every token
// is compared, in constant time, over fixed-length hashes, so neither the
// position of a match nor a token's length shows in the timing.
func (a *Server) validToken(token string) bool {
	if token == "" {
		return false
	}
	h := sha256.Sum256([]byte(token))
	ok := 0
	for i := range a.tokens {
		ok |= subtle.ConstantTimeCompare(h[:], a.tokens[i][:])
	}
	return ok == 1
}

// bearer returns the request's "Authorization: Bearer" token.
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// requireToken answers 401 unauthorized unless the request carries an admin
// bearer token.
func (a *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.validToken(bearer(r)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tenantgate-admin"`)
			a.writeError(w, r, errAdminUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serve adapts an admin handler, sending its error through writeError.
func (a *Server) serve(fn httpapi.HandlerFunc) http.Handler {
	return httpapi.Handle(fn, a.writeError)
}

// adminError refines the control plane's conflicts for the admin API: the
// field they name, and a code saying what kind of conflict it is. Other
// errors go to httpapi.ErrorFor unchanged.
func adminError(err error) error {
	var ce *tenantstore.ConflictError
	switch {
	case errors.Is(err, tenantstore.ErrStaleVersion):
		return httpapi.Conflict("stale_version", "version", "the tenant was changed by someone else; reload it and try again")
	case errors.Is(err, tenantstore.ErrDatabaseInUse) && errors.As(err, &ce):
		return httpapi.Conflict("database_in_use", ce.Field, ce.Field+" "+ce.Message)
	case errors.As(err, &ce):
		code := "conflict"
		if strings.Contains(ce.Message, "already taken") {
			code = "already_exists"
		}
		return httpapi.Conflict(code, ce.Field, ce.Field+" "+ce.Message)
	}
	return err
}

// writeError answers err as SPEC §7's JSON error, logging faults of ours.
func (a *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae, internal := httpapi.ErrorFor(adminError(err))
	if internal {
		reqctx.Logger(r.Context(), a.log).ErrorContext(r.Context(), "admin request failed", slog.String("error", err.Error()))
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	} else if ae.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	httpapi.WriteJSON(w, ae.Status, map[string]*httpapi.Error{"error": ae})
}
