package sales

import (
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
)

// defaultReportDays is the span of a sales report without ?from=.
const defaultReportDays = 30

// MaxReportDays is the longest span a sales report covers (from and to
// inclusive): it bounds the answer to MaxReportDays × (locations + 1) rows,
// however many days a tenant has sales on.
const MaxReportDays = 366

// SalesRow is the sales of one location on one day: issued and paid
// invoices, by issue date. LocationID is nil for invoices without a location.
type SalesRow struct {
	LocationID   *uuid.UUID `json:"location_id"`
	LocationCode string     `json:"location_code,omitempty"`
	LocationName string     `json:"location_name,omitempty"`
	Day          string     `json:"day"`
	Invoices     int64      `json:"invoices"`
	Total        string     `json:"total"`
}

// salesReport answers GET /api/reports/sales?from=&to=&location=: totals per
// location and day, from and to inclusive (default: the last 30 days),
// location by ID or code.
func (s *Server) salesReport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	to := s.now().UTC().Format(time.DateOnly)
	if v := q.Get("to"); v != "" {
		if err := httpapi.Date(v).Check("to"); err != nil {
			return err
		}
		to = v
	}
	toDay, _ := time.Parse(time.DateOnly, to)
	from := toDay.AddDate(0, 0, -(defaultReportDays - 1)).Format(time.DateOnly)
	if v := q.Get("from"); v != "" {
		if err := httpapi.Date(v).Check("from"); err != nil {
			return err
		}
		from = v
	}
	if from > to {
		return httpapi.InvalidField("from", "must not be after to")
	}
	if fromDay, _ := time.Parse(time.DateOnly, from); toDay.Sub(fromDay) >= MaxReportDays*24*time.Hour {
		return httpapi.InvalidField("from", fmt.Sprintf("must be at most %d days before to", MaxReportDays))
	}
	loc, err := s.checkLocation(r, "location", q.Get("location"))
	if err != nil {
		return err
	}
	db, err := s.db(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	rows, err := db.Query(ctx, `
		SELECT location_id, issued_on::text, count(*), sum(total)::text
		FROM invoices
		WHERE status IN ('issued', 'paid') AND issued_on BETWEEN $1::date AND $2::date
		  AND ($3::uuid IS NULL OR location_id = $3)
		GROUP BY location_id, issued_on
		ORDER BY issued_on, location_id NULLS FIRST`, from, to, loc)
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (SalesRow, error) {
		var x SalesRow
		err := row.Scan(&x.LocationID, &x.Day, &x.Invoices, &x.Total)
		return x, err
	})
	if err != nil {
		return err
	}
	var total string
	if err := db.QueryRow(ctx, `
		SELECT coalesce(sum(total), 0)::text FROM invoices
		WHERE status IN ('issued', 'paid') AND issued_on BETWEEN $1::date AND $2::date
		  AND ($3::uuid IS NULL OR location_id = $3)`, from, to, loc).Scan(&total); err != nil {
		return err
	}
	if len(items) > 0 {
		locs, err := s.tenantLocations(r)
		if err != nil {
			return err
		}
		byID := make(map[string]int, len(locs))
		for i, l := range locs {
			byID[l.ID] = i
		}
		for i := range items {
			if items[i].LocationID != nil {
				if j, ok := byID[items[i].LocationID.String()]; ok {
					items[i].LocationCode, items[i].LocationName = locs[j].Code, locs[j].Name
				}
			}
		}
	}
	if items == nil {
		items = []SalesRow{}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "items": items, "total": total, "next_cursor": ""})
	return nil
}
