package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// impersonateRequest is the body of POST /api/tenants/{subdomain}/impersonate.
type impersonateRequest struct {
	Email string `json:"email"`
}

// impersonateResponse is its answer: the single-use link and its expiry.
type impersonateResponse struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *Server) impersonateRoutes(api *mux.Router) {
	api.Handle("/tenants/{subdomain}/impersonate", a.serve(a.impersonateAPI)).Methods(http.MethodPost)
}

// tenantOrigin is where tenant sub's pages are: Config.TenantOrigin, or
// https://<sub>.<BaseDomain>.
func (a *Server) tenantOrigin(sub string) string {
	if a.cfg.TenantOrigin != nil {
		return strings.TrimSuffix(a.cfg.TenantOrigin(sub), "/")
	}
	base := a.cfg.BaseDomain
	if base == "" {
		base = "localhost"
	}
	return "https://" + sub + "." + strings.TrimSuffix(base, ".")
}

func (a *Server) impersonateAPI(w http.ResponseWriter, r *http.Request) error {
	var req impersonateRequest
	if err := httpapi.DecodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := a.impersonate(r.Context(), mux.Vars(r)["subdomain"], req.Email)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusCreated, res)
	return nil
}

// impersonate issues a single-use login link to tenant sub as the active
// user with email (SPEC §13), audited as the request's actor.
func (a *Server) impersonate(ctx context.Context, sub, email string) (*impersonateResponse, error) {
	email = strings.TrimSpace(email)
	if err := tenantstore.ValidateEmail("email", email); err != nil {
		return nil, err
	}
	t, err := a.m.Get(ctx, sub)
	if err != nil {
		return nil, err
	}
	if t.Status != tenantstore.StatusActive {
		return nil, httpapi.Conflict("tenant_not_active", "status", "the tenant is "+string(t.Status)+"; its users cannot log in")
	}
	ok, err := a.activeUser(ctx, t, email)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, httpapi.InvalidField("email", "is not an active user of tenant "+t.Subdomain)
	}
	imp, err := a.m.Store().IssueImpersonation(ctx, t, email)
	if err != nil {
		return nil, err
	}
	return &impersonateResponse{
		URL:       a.tenantOrigin(t.Subdomain) + "/impersonate/" + url.PathEscape(imp.Token),
		ExpiresAt: imp.ExpiresAt.UTC(),
	}, nil
}

// activeUser reports whether tenant t has an active user with email, through
// the dashboard's small pools.
func (a *Server) activeUser(ctx context.Context, t *tenantstore.Tenant, email string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, databaseStatusTimeout)
	defer cancel()
	dsn, err := a.m.DatabaseURL(t)
	if err != nil {
		return false, err
	}
	lease, err := a.pools.Acquire(ctx, t.ID, dsn)
	if err != nil {
		return false, err
	}
	defer lease.Release()
	var active bool
	err = lease.Pool().QueryRow(ctx, `SELECT active FROM users WHERE lower(email) = lower($1)`, email).Scan(&active)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return active, err
}
