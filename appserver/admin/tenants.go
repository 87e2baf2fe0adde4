package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// adminTenant is a tenant as the admin API answers it: the tenant's fields
// at the top level (secrets never marshalled), plus what some routes add.
type adminTenant struct {
	*tenantstore.Tenant
	// InitialAdminPassword is the generated password of the first admin,
	// shown once, by the create that generated it.
	InitialAdminPassword string `json:"initial_admin_password,omitempty"`
	// DatabaseStatus is "ok" or "unreachable" (show only).
	DatabaseStatus string `json:"database_status,omitempty"`
	// LatencyMS is how long connecting and one query took (show only).
	LatencyMS *float64 `json:"latency_ms,omitempty"`
	// Database is the tenant's placement (it shadows the embedded
	// "database" object with the same keys); show adds its server, size
	// and connections.
	Database map[string]any `json:"database"`
}

// merge adds the JSON object of part to the "database" object.
func (v *adminTenant) merge(part any) error {
	b, err := json.Marshal(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, &v.Database)
}

// withUsage gives v's "database" object the usage of its database: server,
// server_host, size_bytes and connections (null, with usage_error, when
// the server does not answer).
func withUsage(v *adminTenant, u tenantstore.Usage) error {
	if err := v.merge(u); err != nil {
		return err
	}
	if u.Server == "" {
		v.Database["server"] = nil
	}
	return nil
}

func viewTenant(t *tenantstore.Tenant) adminTenant {
	v := *t
	if v.Domains == nil {
		v.Domains = []tenantstore.Domain{}
	}
	out := adminTenant{Tenant: &v, Database: map[string]any{}}
	_ = out.merge(v.Placement) // a Placement always marshals
	return out
}

type createTenantRequest struct {
	Name          string `json:"name"`
	Subdomain     string `json:"subdomain"`
	AdminEmail    string `json:"admin_email"`
	MaxUsers      *int   `json:"max_users"`
	MultiLocation bool   `json:"multi_location"`
	AdminPassword string `json:"admin_password"`
	DatabaseURL   string `json:"database_url"`
	// AdoptExisting attaches the tenant to an existing database_url that
	// already holds tables (409 database_in_use without it).
	AdoptExisting bool `json:"adopt_existing"`
	// Plan names the tenant's plan; the default plan without it.
	Plan string `json:"plan"`
	// Server names the registered database server to place the tenant
	// on; without it the least loaded accepting one is chosen.
	Server string `json:"server"`
}

type patchTenantRequest struct {
	Name       *string             `json:"name"`
	Subdomain  *string             `json:"subdomain"`
	AdminEmail *string             `json:"admin_email"`
	Status     *tenantstore.Status `json:"status"`
	// MaxUsers is a whole number, or null to follow the plan's.
	MaxUsers      json.RawMessage `json:"max_users"`
	MultiLocation *bool           `json:"multi_location"`
	DatabaseURL   *string         `json:"database_url"`
	Version       *int64          `json:"version"`
	// Limits is a merge patch of the tenant's limits (decodeLimitsPatch).
	Limits json.RawMessage `json:"limits"`
	// Plan moves the tenant to another plan; Features is a merge patch of
	// its feature overrides (decodeFeaturePatch: null = the plan's).
	Plan     *string         `json:"plan"`
	Features json.RawMessage `json:"features"`
}

func (a *Server) tenantRoutes(api *mux.Router) {
	api.Handle("/tenants", a.serve(a.createTenant)).Methods(http.MethodPost)
	api.Handle("/tenants", a.serve(a.listTenants)).Methods(http.MethodGet)
	api.Handle("/tenants/{subdomain}", a.serve(a.showTenant)).Methods(http.MethodGet)
	api.Handle("/tenants/{subdomain}", a.serve(a.patchTenant)).Methods(http.MethodPatch)
	api.Handle("/tenants/{subdomain}", a.serve(a.deleteTenant)).Methods(http.MethodDelete)
	api.Handle("/tenants/{subdomain}/migrate", a.serve(a.migrateTenant)).Methods(http.MethodPost)
	api.Handle("/tenants/{subdomain}/usage", a.serve(a.tenantUsage)).Methods(http.MethodGet)
	api.Handle("/migrations/status", a.serve(a.migrationStatus)).Methods(http.MethodGet)
}

// createRequest turns the API's body into the Manager's request.
func (in createTenantRequest) createRequest() tenantstore.CreateRequest {
	req := tenantstore.CreateRequest{
		Name: in.Name, Subdomain: in.Subdomain, AdminEmail: in.AdminEmail,
		MultiLocation: in.MultiLocation, AdminPassword: in.AdminPassword,
		Placement: tenantstore.Placement{URL: in.DatabaseURL}, AdoptExisting: in.AdoptExisting, Server: in.Server, Plan: in.Plan,
	}
	if in.MaxUsers != nil {
		req.MaxUsers = *in.MaxUsers
		if req.MaxUsers == 0 {
			// The Manager reads 0 as "the default"; an explicit 0 is below
			// its minimum of 1 and must be refused by it.
			req.MaxUsers = -1
		}
	}
	return req
}

// createTenant provisions a tenant (SPEC §4) and answers 201 with it.
func (a *Server) createTenant(w http.ResponseWriter, r *http.Request) error {
	var in createTenantRequest
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	t, password, err := a.m.Create(r.Context(), in.createRequest())
	if err != nil {
		return err
	}
	v := viewTenant(t)
	v.InitialAdminPassword = password
	w.Header().Set("Location", "/api/tenants/"+t.Subdomain)
	httpapi.WriteJSON(w, http.StatusCreated, v)
	return nil
}

// listTenants answers a page of tenants, filtered by ?status=.
func (a *Server) listTenants(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	opts := tenantstore.ListOptions{Status: tenantstore.Status(q.Get("status")), Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > httpapi.MaxPageLimit {
			return httpapi.InvalidField("limit", "must be a whole number from 1 to "+strconv.Itoa(httpapi.MaxPageLimit))
		}
		opts.Limit = n
	}
	tenants, next, err := a.m.List(r.Context(), opts)
	if err != nil {
		return err
	}
	page := httpapi.Page[adminTenant]{Items: make([]adminTenant, 0, len(tenants)), NextCursor: next}
	for _, t := range tenants {
		page.Items = append(page.Items, viewTenant(t))
	}
	httpapi.WriteJSON(w, http.StatusOK, page)
	return nil
}

// databaseStatus checks t's database through the Manager: "ok" with the
// latency, or "unreachable".
func (a *Server) databaseStatus(ctx context.Context, t *tenantstore.Tenant) (string, *float64) {
	ctx, cancel := context.WithTimeout(ctx, databaseStatusTimeout)
	defer cancel()
	lat, err := a.m.DatabaseStatus(ctx, t)
	if err != nil {
		return "unreachable", nil
	}
	ms := float64(lat.Microseconds()) / 1000
	return "ok", &ms
}

// showTenant answers one tenant with the state of its database.
func (a *Server) showTenant(w http.ResponseWriter, r *http.Request) error {
	t, err := a.m.Get(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	v := viewTenant(t)
	v.DatabaseStatus, v.LatencyMS = a.databaseStatus(r.Context(), t)
	ctx, cancel := context.WithTimeout(r.Context(), databaseStatusTimeout)
	defer cancel()
	if err := withUsage(&v, a.m.DatabaseUsage(ctx, t)); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, v)
	return nil
}

// patchTenant changes a tenant; a rename makes the old host unknown and the
// new one served everywhere, through the Store's Notifier.
func (a *Server) patchTenant(w http.ResponseWriter, r *http.Request) error {
	var in patchTenantRequest
	if err := httpapi.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	limits, err := decodeLimitsPatch(in.Limits)
	if err != nil {
		return err
	}
	features, err := decodeFeaturePatch(in.Features)
	if err != nil {
		return err
	}
	maxUsers, planMaxUsers, err := decodeMaxUsers(in.MaxUsers)
	if err != nil {
		return err
	}
	t, err := a.m.Update(r.Context(), mux.Vars(r)["subdomain"], tenantstore.Patch{
		Name: in.Name, Subdomain: in.Subdomain, AdminEmail: in.AdminEmail, Status: in.Status,
		MaxUsers: maxUsers, MultiLocation: in.MultiLocation, DatabaseURL: in.DatabaseURL, Version: in.Version,
		Limits: limits, Plan: in.Plan, Features: features, PlanMaxUsers: planMaxUsers,
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, viewTenant(t))
	return nil
}

// deleteTenant removes a suspended tenant (409 otherwise), dropping its
// database with ?drop_database=true when tenantgate created it; otherwise it
// is detached and the answer (200, not 204) says why it was kept.
func (a *Server) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	var opts tenantstore.DeleteOptions
	if v := r.URL.Query().Get("drop_database"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return httpapi.InvalidField("drop_database", "must be true or false")
		}
		opts.DropDatabase = b
	}
	res, err := a.m.Delete(r.Context(), mux.Vars(r)["subdomain"], opts)
	if err != nil {
		return err
	}
	if res.Warning != "" {
		httpapi.WriteJSON(w, http.StatusOK, res)
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// migrateTenant applies the tenant's pending migrations.
func (a *Server) migrateTenant(w http.ResponseWriter, r *http.Request) error {
	sub := mux.Vars(r)["subdomain"]
	if _, err := a.m.Get(r.Context(), sub); err != nil {
		return err
	}
	results, err := a.m.Migrate(r.Context(), tenantstore.MigrateOptions{Tenant: sub})
	if err != nil {
		return err
	}
	if len(results) != 1 {
		return httpapi.ErrNotFound
	}
	if res := results[0]; res.Err != nil {
		return &httpapi.Error{Status: http.StatusInternalServerError, Code: "migration_failed", Message: res.Err.Error()}
	}
	httpapi.WriteJSON(w, http.StatusOK, results[0])
	return nil
}

// migrationStatus answers every tenant's schema version against the latest.
func (a *Server) migrationStatus(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	states, err := a.m.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	behind := 0
	for _, s := range states {
		if s.Err != nil || s.Current < s.Latest {
			behind++
		}
	}
	if states == nil {
		states = []tenantstore.MigrationState{}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{
		"latest": a.m.LatestVersion(), "behind": behind, "items": states, "next_cursor": "",
	})
	return nil
}
