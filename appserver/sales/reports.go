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
	from, to, err := s.reportRange(r)
	if err != nil {
		return err
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

// reportRange reads ?from= and ?to= of a report: dates, from and to
// inclusive, to defaulting to today and from to defaultReportDays before it,
// at most MaxReportDays apart.
func (s *Server) reportRange(r *http.Request) (from, to string, _ error) {
	q := r.URL.Query()
	to = s.now().UTC().Format(time.DateOnly)
	if v := q.Get("to"); v != "" {
		if err := httpapi.Date(v).Check("to"); err != nil {
			return "", "", err
		}
		to = v
	}
	toDay, _ := time.Parse(time.DateOnly, to)
	from = toDay.AddDate(0, 0, -(defaultReportDays - 1)).Format(time.DateOnly)
	if v := q.Get("from"); v != "" {
		if err := httpapi.Date(v).Check("from"); err != nil {
			return "", "", err
		}
		from = v
	}
	if from > to {
		return "", "", httpapi.InvalidField("from", "must not be after to")
	}
	if fromDay, _ := time.Parse(time.DateOnly, from); toDay.Sub(fromDay) >= MaxReportDays*24*time.Hour {
		return "", "", httpapi.InvalidField("from", fmt.Sprintf("must be at most %d days before to", MaxReportDays))
	}
	return from, to, nil
}

// LocationSummary is one location's money over a report's range: Sales are
// its issued and paid invoices (by issue date), Paid and Outstanding split
// them, Expenses are what it spent (by date spent), Margin = Sales −
// Expenses. LocationID is nil for what has no location.
type LocationSummary struct {
	LocationID   *uuid.UUID `json:"location_id"`
	LocationCode string     `json:"location_code,omitempty"`
	LocationName string     `json:"location_name,omitempty"`
	Invoices     int64      `json:"invoices"`
	Sales        string     `json:"sales"`
	Paid         string     `json:"paid"`
	Outstanding  string     `json:"outstanding"`
	Expenses     string     `json:"expenses"`
	Margin       string     `json:"margin"`
}

// summaryReport answers GET /api/reports/summary?from=&to=: per location
// (those with invoices or expenses in the range), sales, paid against
// outstanding, expenses and margin, and the same over all locations
// ("total"). The answer has at most locations + 1 rows.
func (s *Server) summaryReport(w http.ResponseWriter, r *http.Request) error {
	from, to, err := s.reportRange(r)
	if err != nil {
		return err
	}
	db, err := s.db(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	rows, err := db.Query(ctx, `
		WITH inv AS (
			SELECT coalesce(location_id, $3::uuid) AS loc, count(*) AS n, sum(total) AS sales,
			       coalesce(sum(total) FILTER (WHERE status = 'paid'), 0) AS paid,
			       coalesce(sum(total) FILTER (WHERE status = 'issued'), 0) AS outstanding
			FROM invoices
			WHERE status IN ('issued', 'paid') AND issued_on BETWEEN $1::date AND $2::date
			GROUP BY 1),
		exp AS (
			SELECT coalesce(location_id, $3::uuid) AS loc, sum(amount) AS expenses FROM expenses
			WHERE spent_on BETWEEN $1::date AND $2::date
			GROUP BY 1),
		joined AS (
			SELECT nullif(coalesce(inv.loc, exp.loc), $3::uuid) AS location_id,
			       coalesce(inv.n, 0) AS n, coalesce(inv.sales, 0) AS sales, coalesce(inv.paid, 0) AS paid,
			       coalesce(inv.outstanding, 0) AS outstanding, coalesce(exp.expenses, 0) AS expenses
			FROM inv FULL JOIN exp ON inv.loc = exp.loc)
		SELECT 0 AS k, location_id, n, round(sales, 2)::text, round(paid, 2)::text, round(outstanding, 2)::text,
		       round(expenses, 2)::text, round(sales - expenses, 2)::text
		FROM joined
		UNION ALL
		SELECT 1, NULL::uuid, coalesce(sum(n), 0)::bigint, round(coalesce(sum(sales), 0), 2)::text, round(coalesce(sum(paid), 0), 2)::text,
		       round(coalesce(sum(outstanding), 0), 2)::text, round(coalesce(sum(expenses), 0), 2)::text,
		       round(coalesce(sum(sales - expenses), 0), 2)::text
		FROM joined
		ORDER BY 1, 2 NULLS LAST`, from, to, uuid.Nil) // $3: the key of "no location" in the join
	if err != nil {
		return err
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (LocationSummary, error) {
		var x LocationSummary
		var k int
		err := row.Scan(&k, &x.LocationID, &x.Invoices, &x.Sales, &x.Paid, &x.Outstanding, &x.Expenses, &x.Margin)
		return x, err
	})
	if err != nil {
		return err
	}
	total := items[len(items)-1] // k = 1 sorts last; the aggregate always answers one row
	items = items[:len(items)-1]
	if len(items) > 0 {
		locs, err := s.tenantLocations(r)
		if err != nil {
			return err
		}
		for i := range items {
			if items[i].LocationID == nil {
				continue
			}
			for _, l := range locs {
				if l.ID == items[i].LocationID.String() {
					items[i].LocationCode, items[i].LocationName = l.Code, l.Name
				}
			}
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "items": items, "total": total})
	return nil
}
