package appserver

import (
	"net/http"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tenantgate/tenantgate/appserver/brandlogo"
	"github.com/tenantgate/tenantgate/appserver/httpapi"
)

// serve adapts fn to http.Handler, sending any error through writeError.
func (s *Server) serve(fn httpapi.HandlerFunc) http.Handler {
	return httpapi.Handle(fn, s.writeError)
}

// The two listeners are composed here and only here: reading AppHandler and
// AdminHandler lists every route group of the appserver.

// AppHandler is the tenant listener (APP_ADDR): health routes, then every
// other route behind the tenant token.
func (s *Server) AppHandler() http.Handler {
	root := mux.NewRouter()
	// Health, without a token.
	root.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet, http.MethodHead)
	root.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet, http.MethodHead)

	// Everything else is a tenant's: token verified, tenant active, unsafe
	// methods same-origin.
	t := root.NewRoute().Subrouter()
	t.Use(s.requireTenant, s.checkOrigin)

	// The sales room's JSON API: /api/auth/login, the rest behind a session.
	api := t.PathPrefix("/api").Subrouter()
	s.sales.APIRoutes(api)
	// Unmatched API routes still verify the token first, so nothing answers
	// without one.
	api.NotFoundHandler = s.requireTenant(s.serve(func(http.ResponseWriter, *http.Request) error { return httpapi.ErrNotFound }))
	api.MethodNotAllowedHandler = s.requireTenant(s.serve(func(http.ResponseWriter, *http.Request) error { return httpapi.ErrMethodNotAllowed }))

	// The tenant's logo, without a session (the login page shows it).
	if s.logos != nil {
		t.Handle(brandlogo.Path, s.logos).Methods(http.MethodGet, http.MethodHead)
	}

	// The sales room's HTML pages: /login, /, /customers, /products, /invoices.
	s.sales.PageRoutes(t)

	root.NotFoundHandler = s.requireTenant(s.serve(func(http.ResponseWriter, *http.Request) error { return httpapi.ErrNotFound }))
	return s.withRequestLog("app", root)
}

// AdminHandler is the operators' listener (ADMIN_ADDR): health, readiness,
// then the admin room (Config.Admin). The edge proxies it for admin.<base>,
// so it serves no unauthenticated /metrics: the admin room serves /metrics
// to admin-token holders (admin.Config.Metrics), and MetricsHandler serves
// an internal listener (METRICS_ADDR).
func (s *Server) AdminHandler() http.Handler {
	r := mux.NewRouter()
	// Health, without a token.
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet, http.MethodHead)
	// The admin room: /api/openapi.json, /metrics and the admin API behind
	// an admin token, the dashboard.
	if s.cfg.Admin != nil {
		s.cfg.Admin.Routes(r)
	}
	r.NotFoundHandler = s.serve(func(http.ResponseWriter, *http.Request) error { return httpapi.ErrNotFound })
	return s.withRequestLog("admin", r)
}

// MetricsHandler serves reg in the Prometheus format, without
// authentication: mount it behind the admin token (admin.Config.Metrics) or on
// a listener the edge does not proxy (METRICS_ADDR).
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
