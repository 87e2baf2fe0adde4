package admin

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/tenantstore"
)

func (a *Server) auditRoutes(api *mux.Router) {
	api.Handle("/audit", a.serve(a.listAudit)).Methods(http.MethodGet)
}

// auditOptions reads ?tenant=&cursor=&limit= (limit 1 to 500).
func auditOptions(r *http.Request) (tenantstore.AuditListOptions, error) {
	q := r.URL.Query()
	opts := tenantstore.AuditListOptions{Subdomain: q.Get("tenant"), Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > tenantstore.MaxListLimit {
			return opts, httpapi.InvalidField("limit", "must be a whole number from 1 to "+strconv.Itoa(tenantstore.MaxListLimit))
		}
		opts.Limit = n
	}
	if len(opts.Subdomain) > 253 {
		return opts, httpapi.InvalidField("tenant", "is not a subdomain")
	}
	return opts, nil
}

// listAudit answers GET /api/audit: the audit trail, newest first.
func (a *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	opts, err := auditOptions(r)
	if err != nil {
		return err
	}
	items, next, err := a.m.Store().ListAudit(r.Context(), opts)
	if err != nil {
		return err
	}
	if items == nil {
		items = []tenantstore.AuditEntry{}
	}
	httpapi.WriteJSON(w, http.StatusOK, httpapi.Page[tenantstore.AuditEntry]{Items: items, NextCursor: next})
	return nil
}
