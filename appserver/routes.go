package appserver

import (
	"net/http"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tenantgate/tenantgate/appserver/httpapi"
)

// Hooks for the other files of this package that add routes without
// touching this one: pages*.go sets mountPages in an init function, admin*.go
// sets mountAdmin. Both are nil until those files exist.
var (
	// mountPages adds HTML pages to the tenant router. r already verifies the
	// tenant token (TenantFrom works); pages check the session themselves
	// with s.sessionUser and redirect to /login instead of answering 401.
	mountPages func(s *Server, r *mux.Router)
)

// serve adapts fn to http.Handler, sending any error through writeError.
func (s *Server) serve(fn httpapi.HandlerFunc) http.Handler {
	return httpapi.Handle(fn, s.writeError)
}

// AppHandler is the tenant listener (APP_ADDR): health routes, then every
// other route behind the tenant token.
func (s *Server) AppHandler() http.Handler {
	root := mux.NewRouter()
	root.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet, http.MethodHead)
	root.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet, http.MethodHead)

	t := root.NewRoute().Subrouter()
	t.Use(s.requireTenant, s.checkOrigin)

	api := t.PathPrefix("/api").Subrouter()
	api.Handle("/auth/login", s.serve(s.login)).Methods(http.MethodPost)

	authed := api.NewRoute().Subrouter()
	authed.Use(s.requireSession)
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
	// Unmatched API routes still verify the token first, so nothing answers
	// without one.
	api.NotFoundHandler = s.requireTenant(s.serve(func(http.ResponseWriter, *http.Request) error { return httpapi.ErrNotFound }))
	api.MethodNotAllowedHandler = s.requireTenant(s.serve(func(http.ResponseWriter, *http.Request) error {
		return &httpapi.Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Message: "method not allowed"}
	}))

	if mountPages != nil {
		mountPages(s, t)
	}
	root.NotFoundHandler = s.requireTenant(s.serve(func(http.ResponseWriter, *http.Request) error { return httpapi.ErrNotFound }))
	return s.withRequestLog("app", root)
}

// AdminHandler is the operators' listener (ADMIN_ADDR): health, readiness,
// then whatever mountAdmin and Config.AdminRoutes add. The edge proxies it
// for admin.<base>, so it serves no unauthenticated /metrics: the admin API
// serves /metrics to admin-token holders (AdminConfig.Metrics), and
// MetricsHandler serves an internal listener (METRICS_ADDR).
func (s *Server) AdminHandler() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet, http.MethodHead)
	if s.cfg.Admin != nil {
		s.cfg.Admin.Routes(r)
	}
	r.NotFoundHandler = s.serve(func(http.ResponseWriter, *http.Request) error { return httpapi.ErrNotFound })
	return s.withRequestLog("admin", r)
}

// MetricsHandler serves reg in the Prometheus format, without
// authentication: mount it behind the admin token (AdminConfig.Metrics) or on
// a listener the edge does not proxy (METRICS_ADDR).
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
