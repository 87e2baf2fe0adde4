package sales

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
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

// locationList is the searchable, sortable list of locations (filtered in
// memory: they come from the control plane, a handful per tenant).
var locationList = listSpec{sorts: map[string]string{"name": "", "code": "", "active": ""}}

// listLocationsOffset answers the OffsetPage of the tenant's locations.
func (s *Server) listLocationsOffset(w http.ResponseWriter, r *http.Request) error {
	q, sortKey, _, offset, limit, err := parseListQuery(r, locationList)
	if err != nil {
		return err
	}
	locs, err := s.tenantLocations(r)
	if err != nil {
		return err
	}
	lq := strings.ToLower(q)
	locs = slices.DeleteFunc(locs, func(l tenantstore.Location) bool {
		return lq != "" && !strings.Contains(strings.ToLower(l.Name+"\x00"+l.Code+"\x00"+l.Address), lq)
	})
	key, desc := strings.TrimPrefix(sortKey, "-"), strings.HasPrefix(sortKey, "-")
	slices.SortStableFunc(locs, func(a, b tenantstore.Location) int {
		var c int
		switch key {
		case "name":
			c = cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		case "code":
			c = cmp.Compare(a.Code, b.Code)
		case "active":
			c = cmp.Compare(boolInt(a.Active), boolInt(b.Active))
		}
		c = cmp.Or(c, a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
		if desc {
			return -c
		}
		return c
	})
	total := len(locs)
	locs = locs[min(offset, total):min(offset+limit, total)]
	httpapi.WriteJSON(w, http.StatusOK, OffsetPage[tenantstore.Location]{Items: locs, Total: total, Offset: offset, Limit: limit, Sort: sortKey, Q: q})
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// getLocation answers one of the tenant's locations; another tenant's is
// not found.
func (s *Server) getLocation(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	locs, err := s.tenantLocations(r)
	if err != nil {
		return err
	}
	for _, l := range locs {
		if l.ID == id.String() {
			httpapi.WriteJSON(w, http.StatusOK, l)
			return nil
		}
	}
	return httpapi.ErrNotFound
}

// listLocations answers the tenant's locations (read-only here; operators
// manage them through tenantctl or the admin API).
func (s *Server) listLocations(w http.ResponseWriter, r *http.Request) error {
	if wantsOffsetList(r) {
		return s.listLocationsOffset(w, r)
	}
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
