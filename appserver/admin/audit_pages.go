package admin

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/webpage"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// tenantAuditEntries is how many of a tenant's newest audit entries its
// page shows.
const tenantAuditEntries = 10

// auditPageData is the dashboard's audit page.
type auditPageData struct {
	Tenant string
	Items  []tenantstore.AuditEntry
	Next   string
}

// impersonatePageData is the answer to the dashboard's impersonate form.
type impersonatePageData struct {
	T    *tenantstore.Tenant
	Link *impersonateResponse
}

func (a *Server) auditPageRoutes(r *mux.Router) {
	r.Handle("/audit", a.dashboard(a.auditPage)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/tenants/{subdomain}/impersonate", a.form(a.impersonateSubmit)).Methods(http.MethodPost)
}

// auditPage lists the audit trail, newest first, optionally of one tenant.
func (a *Server) auditPage(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	opts, err := auditOptions(r)
	if err != nil {
		return err
	}
	if opts.Limit == 0 {
		opts.Limit = dashboardPageSize
	}
	data := auditPageData{Tenant: opts.Subdomain}
	if data.Items, data.Next, err = a.m.Store().ListAudit(r.Context(), opts); err != nil {
		return err
	}
	d.Title, d.Data = "Audit", data
	webpage.Render(w, r, a.log, adminPages, http.StatusOK, "audit", d)
	return nil
}

// recentAudit is the tenant page's audit section: t's newest entries, or
// none when the trail cannot be read (the page still shows the rest).
func (a *Server) recentAudit(ctx context.Context, t *tenantstore.Tenant) []tenantstore.AuditEntry {
	items, _, err := a.m.Store().ListAudit(ctx, tenantstore.AuditListOptions{Subdomain: t.Subdomain, Limit: tenantAuditEntries})
	if err != nil {
		return nil
	}
	return items
}

// impersonateSubmit issues an impersonation link from the tenant page's
// form and shows it once (it is valid 60 s, for one use).
func (a *Server) impersonateSubmit(w http.ResponseWriter, r *http.Request, d *webpage.Data) error {
	sub := mux.Vars(r)["subdomain"]
	t, err := a.m.Get(r.Context(), sub)
	if err != nil {
		return err
	}
	link, err := a.impersonate(r.Context(), t.Subdomain, r.PostForm.Get("email"))
	if err != nil {
		d.Form = webpage.FormValues(r, "email")
		status, perr := d.FieldError(err)
		if perr != nil {
			return perr
		}
		return a.renderTenant(w, r, d, t, status)
	}
	w.Header().Set("Cache-Control", "no-store")
	d.Title, d.Data = "Support login link", impersonatePageData{T: t, Link: link}
	webpage.Render(w, r, a.log, adminPages, http.StatusOK, "impersonate", d)
	return nil
}
