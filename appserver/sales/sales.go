// Package sales is the tenant's application, the room the product sells:
// login and sessions, users, customers, products, expenses, invoices,
// locations and the sales report, as a JSON API and as server-rendered
// pages that call the same handlers (so they share validation and queries).
// It imports the shared packages below it (httpapi, reqctx, clientinfo,
// tenantdb, webpage), never appserver or the admin room; appserver mounts
// it behind the tenant-token middleware.
package sales

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/appserver/clientinfo"
	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
	"github.com/tenantgate/tenantgate/appserver/tenantdb"
	"github.com/tenantgate/tenantgate/appserver/webpage"
	"github.com/tenantgate/tenantgate/internal/featureflag"
	"github.com/tenantgate/tenantgate/internal/loginlimit"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// DefaultSessionLifetime is how long a login lasts when
// Config.SessionLifetime is 0.
const DefaultSessionLifetime = 12 * time.Hour

// web holds the templates of the tenant's pages.
//
//go:embed web
var web embed.FS

// tenantPages are the templates of the tenant's pages (web/).
var tenantPages = webpage.MustParse(web, "web")

// LocationLister lists a tenant's locations; *tenantstore.Store implements it.
type LocationLister interface {
	ListLocations(ctx context.Context, tenantID string) ([]tenantstore.Location, error)
}

// Config wires the sales room. DB and Locations are required.
type Config struct {
	// DB gives each request its tenant's pool and writes the tenant
	// listener's errors.
	DB *tenantdb.Source
	// Locations lists the tenant's locations (the control plane).
	Locations LocationLister
	// Logger receives the errors of pages; slog.Default() when nil.
	Logger *slog.Logger
	// BcryptCost is the cost of password hashes; bcrypt.DefaultCost when 0.
	BcryptCost int
	// SessionLifetime is how long a login lasts; DefaultSessionLifetime when 0.
	SessionLifetime time.Duration
	// LoginLimiter throttles logins (SPEC §9); nil means one in process
	// memory only.
	LoginLimiter *loginlimit.Limiter
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed; clientinfo.DefaultTrustedProxies
	// when nil.
	TrustedProxies clientinfo.Proxies
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Impersonations consumes the admin API's impersonation links at
	// /impersonate/{token}; nil leaves that route out.
	Impersonations Impersonations
	// SupportSessionLifetime is how long an impersonation's session lasts;
	// DefaultSupportSessionLifetime when 0.
	SupportSessionLifetime time.Duration
}

// Server serves the sales API and pages of whichever tenant the request's
// context carries (reqctx.Tenant), in that tenant's database.
type Server struct {
	cfg       Config
	log       *slog.Logger
	tenantDB  *tenantdb.Source
	dummyHash []byte // compared against for unknown e-mails, so login costs the same
	limiter   *loginlimit.Limiter
	proxies   clientinfo.Proxies
	now       func() time.Time
	// flags evaluates the request tenant's features (OpenFeature).
	flags *featureflag.Flags
}

// New checks cfg and returns the sales room.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("sales: Config.DB is required")
	case cfg.Locations == nil:
		return nil, errors.New("sales: Config.Locations is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SupportSessionLifetime <= 0 {
		cfg.SupportSessionLifetime = DefaultSupportSessionLifetime
	}
	if cfg.LoginLimiter == nil {
		cfg.LoginLimiter = loginlimit.New(loginlimit.Config{Now: cfg.Now})
	}
	if cfg.TrustedProxies == nil {
		cfg.TrustedProxies = clientinfo.DefaultTrustedProxies
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("tenantgate-dummy-password"), cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	flags, err := featureflag.New(reqctx.Tenant)
	if err != nil {
		return nil, fmt.Errorf("sales: %w", err)
	}
	return &Server{
		flags:     flags,
		cfg:       cfg,
		log:       cfg.Logger,
		tenantDB:  cfg.DB,
		dummyHash: dummy,
		limiter:   cfg.LoginLimiter,
		proxies:   cfg.TrustedProxies,
		now:       cfg.Now,
	}, nil
}

// APIRoutes adds the sales API (SPEC §7) to api, the tenant's /api router
// (token verified): the login, then every other route behind a session.
func (s *Server) APIRoutes(api *mux.Router) {
	api.Handle("/auth/login", s.serve(s.login)).Methods(http.MethodPost)

	authed := api.NewRoute().Subrouter()
	authed.Use(s.requireSession, s.requireFeature)
	authed.Handle("/auth/logout", s.serve(s.logout)).Methods(http.MethodPost)
	authed.Handle("/me", s.serve(s.me)).Methods(http.MethodGet)
	authed.Handle("/users", s.serve(s.listUsers)).Methods(http.MethodGet)
	authed.Handle("/users", s.serve(s.createUser)).Methods(http.MethodPost)
	authed.Handle("/customers", s.serve(s.listCustomers)).Methods(http.MethodGet)
	authed.Handle("/customers", s.serve(s.createCustomer)).Methods(http.MethodPost)
	authed.Handle("/customers/{id}", s.serve(s.getCustomer)).Methods(http.MethodGet)
	authed.Handle("/customers/{id}", s.serve(s.updateCustomer)).Methods(http.MethodPatch)
	authed.Handle("/customers/{id}", s.serve(s.deleteCustomer)).Methods(http.MethodDelete)
	authed.Handle("/products", s.serve(s.listProducts)).Methods(http.MethodGet)
	authed.Handle("/products", s.serve(s.createProduct)).Methods(http.MethodPost)
	authed.Handle("/products/{id}", s.serve(s.getProduct)).Methods(http.MethodGet)
	authed.Handle("/products/{id}", s.serve(s.updateProduct)).Methods(http.MethodPatch)
	authed.Handle("/products/{id}", s.serve(s.deleteProduct)).Methods(http.MethodDelete)
	authed.Handle("/expenses", s.serve(s.listExpenses)).Methods(http.MethodGet)
	authed.Handle("/expenses", s.serve(s.createExpense)).Methods(http.MethodPost)
	authed.Handle("/expenses/{id}", s.serve(s.getExpense)).Methods(http.MethodGet)
	authed.Handle("/expenses/{id}", s.serve(s.updateExpense)).Methods(http.MethodPatch)
	authed.Handle("/expenses/{id}", s.serve(s.deleteExpense)).Methods(http.MethodDelete)
	authed.Handle("/invoices", s.serve(s.listInvoices)).Methods(http.MethodGet)
	authed.Handle("/invoices", s.serve(s.createInvoice)).Methods(http.MethodPost)
	authed.Handle("/invoices/{id}", s.serve(s.getInvoice)).Methods(http.MethodGet)
	authed.Handle("/invoices/{id}", s.serve(s.updateInvoice)).Methods(http.MethodPatch)
	authed.Handle("/locations", s.serve(s.listLocations)).Methods(http.MethodGet)
	authed.Handle("/reports/sales", s.serve(s.salesReport)).Methods(http.MethodGet)
	// Issue 13: user management, the own password, the organization's settings.
	authed.Handle("/users/seats", s.serve(s.userSeats)).Methods(http.MethodGet)
	authed.Handle("/users/{id}", s.serve(s.getUser)).Methods(http.MethodGet)
	authed.Handle("/users/{id}", s.serve(s.updateUser)).Methods(http.MethodPatch)
	authed.Handle("/users/{id}", s.serve(s.deleteUser)).Methods(http.MethodDelete)
	authed.Handle("/me/password", s.serve(s.changePassword)).Methods(http.MethodPost)
	authed.Handle("/settings", s.serve(s.getSettings)).Methods(http.MethodGet)
	authed.Handle("/settings", s.serve(s.updateSettings)).Methods(http.MethodPatch)
	authed.Handle("/invoices/{id}", s.serve(s.deleteInvoice)).Methods(http.MethodDelete)
	authed.Handle("/reports/summary", s.serve(s.summaryReport)).Methods(http.MethodGet)
}

// PageRoutes adds the tenant's HTML pages (SPEC §7) to r, which verifies
// the tenant token already. Pages check the session themselves and send
// the browser to /login without one.
func (s *Server) PageRoutes(r *mux.Router) {
	get := []string{http.MethodGet, http.MethodHead}
	r.Handle("/login", s.page(false, s.loginPage)).Methods(get...)
	r.Handle("/login", s.page(false, s.loginSubmit)).Methods(http.MethodPost)
	r.Handle("/logout", s.page(true, s.logoutSubmit)).Methods(http.MethodPost)
	r.Handle("/", s.page(true, s.dashboardPage)).Methods(get...)
	r.Handle("/invoices", s.page(true, s.invoicesPage)).Methods(get...)
	r.Handle("/invoices", s.page(true, s.invoicesSubmit)).Methods(http.MethodPost)
	// Issue 13: customers, products, expenses, users (list, detail, edit,
	// delete), locations (read-only), the own password, the settings.
	s.resourcePageRoutes(r)
	s.invoicePageRoutes(r)
	s.impersonateRoutes(r)
}

// serve adapts fn to http.Handler, sending any error through writeError.
func (s *Server) serve(fn httpapi.HandlerFunc) http.Handler {
	return httpapi.Handle(fn, s.writeError)
}

// db returns the pool of the request's tenant, opening it on first use; it
// stays leased until the request ends.
func (s *Server) db(r *http.Request) (*pgxpool.Pool, error) { return s.tenantDB.Pool(r) }

// writeError is the tenant listener's error writer (tenantdb.Source).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s.tenantDB.WriteError(w, r, err)
}

// UserFrom returns the logged-in user of the request, or nil.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}

type userKey struct{}

func withUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// Errors of the sales routes.
var (
	errUnauthenticated = &httpapi.Error{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "log in first"}
	errForbidden       = &httpapi.Error{Status: http.StatusForbidden, Code: "forbidden", Message: "tenant administrators only"}
	errUserLimit       = &httpapi.Error{Status: http.StatusUnprocessableEntity, Code: "user_limit_reached", Message: "the organization has reached its user limit"}
)
