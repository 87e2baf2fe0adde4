package sales

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/reqctx"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// tenantLocations lists the request tenant's locations from the control plane.
func (s *Server) tenantLocations(r *http.Request) ([]tenantstore.Location, error) {
	return s.cfg.Locations.ListLocations(r.Context(), reqctx.Tenant(r.Context()).ID)
}

// checkLocation resolves an optional location reference (its ID, or its code)
// of the request's tenant; field names it in the error.
func (s *Server) checkLocation(r *http.Request, field, ref string) (*uuid.UUID, error) {
	if ref == "" {
		return nil, nil
	}
	locs, err := s.tenantLocations(r)
	if err != nil {
		return nil, err
	}
	for _, l := range locs {
		if l.ID == ref || l.Code == ref {
			id, ok := httpapi.ParseID(l.ID)
			if !ok {
				break
			}
			return &id, nil
		}
	}
	return nil, httpapi.InvalidField(field, "no such location")
}

// listLocations answers the tenant's locations (read-only here; operators
// manage them through tenantctl or the admin API).
func (s *Server) listLocations(w http.ResponseWriter, r *http.Request) error {
	page, err := httpapi.ParsePage(r)
	if err != nil {
		return err
	}
	locs, err := s.tenantLocations(r)
	if err != nil {
		return err
	}
	key := func(l tenantstore.Location) (time.Time, uuid.UUID) {
		id, _ := httpapi.ParseID(l.ID)
		return l.CreatedAt, id
	}
	slices.SortFunc(locs, func(a, b tenantstore.Location) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	if page.HasMore {
		locs = slices.DeleteFunc(locs, func(l tenantstore.Location) bool {
			ts, id := key(l)
			c := ts.Compare(page.After)
			return c < 0 || c == 0 && id.String() <= page.AfterID.String()
		})
	}
	if len(locs) > page.Limit+1 {
		locs = locs[:page.Limit+1]
	}
	httpapi.WriteJSON(w, http.StatusOK, httpapi.MakePage(page, locs, key))
	return nil
}
