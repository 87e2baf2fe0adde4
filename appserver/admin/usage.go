package admin

import (
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/internal/latency"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// usageSteps are the steps of GET /api/tenants/{subdomain}/usage, with the
// range shown when from is not given (an hour of minutes, a day of hours,
// a month of days).
var usageSteps = map[string]struct {
	step, span time.Duration
}{
	"1m": {time.Minute, time.Hour},
	"1h": {time.Hour, 24 * time.Hour},
	"1d": {24 * time.Hour, 30 * 24 * time.Hour},
}

// usageItem is one point of the usage API (SPEC §13). P50 and P99 are in
// milliseconds, from the histogram merged over the step and every edge
// (null without requests); DatabaseBytes is the latest sample (null
// without one); ActiveUsers the most distinct users seen in one minute.
type usageItem struct {
	At              time.Time `json:"at"`
	Requests        int64     `json:"requests"`
	Status2xx       int64     `json:"status_2xx"`
	Status3xx       int64     `json:"status_3xx"`
	Status4xx       int64     `json:"status_4xx"`
	Status5xx       int64     `json:"status_5xx"`
	RateLimited     int64     `json:"rate_limited"`
	BytesOut        int64     `json:"bytes_out"`
	P50ms           *float64  `json:"p50_ms"`
	P99ms           *float64  `json:"p99_ms"`
	ActiveUsers     int64     `json:"active_users"`
	InvoicesCreated int64     `json:"invoices_created"`
	DatabaseBytes   *int64    `json:"database_bytes"`
}

func newUsageItem(p tenantstore.UsagePoint) usageItem {
	it := usageItem{At: p.At, Requests: p.Requests, Status2xx: p.Status2xx, Status3xx: p.Status3xx,
		Status4xx: p.Status4xx, Status5xx: p.Status5xx, RateLimited: p.RateLimited, BytesOut: p.BytesOut,
		ActiveUsers: p.ActiveUsers, InvoicesCreated: p.InvoicesCreated, DatabaseBytes: p.DatabaseBytes}
	var n int64
	for _, v := range p.Latency {
		n += v
	}
	if n > 0 {
		ms := func(q float64) *float64 {
			v := math.Round(float64(latency.Quantile(p.Latency, q))/1e3) / 1e3
			return &v
		}
		it.P50ms, it.P99ms = ms(0.5), ms(0.99)
	}
	return it
}

// usageQuery is a validated usage request.
type usageQuery struct {
	step     string
	from, to time.Time
}

// parseUsageQuery reads from, to (RFC 3339 or YYYY-MM-DD, UTC) and step
// (1m, 1h or 1d; default 1h), each error naming its field. The range is
// bounded to tenantstore.MaxUsagePoints steps.
func parseUsageQuery(r *http.Request, now time.Time) (usageQuery, error) {
	q := r.URL.Query()
	uq := usageQuery{step: q.Get("step")}
	if uq.step == "" {
		uq.step = "1h"
	}
	st, ok := usageSteps[uq.step]
	if !ok {
		return uq, httpapi.InvalidField("step", "must be 1m, 1h or 1d")
	}
	uq.to = now
	if v := q.Get("to"); v != "" {
		t, err := parseUsageTime(v)
		if err != nil {
			return uq, httpapi.InvalidField("to", "must be a time such as 2026-01-02T15:04:05Z or a date such as 2026-01-02")
		}
		uq.to = t
	}
	uq.from = uq.to.Add(-st.span)
	if v := q.Get("from"); v != "" {
		t, err := parseUsageTime(v)
		if err != nil {
			return uq, httpapi.InvalidField("from", "must be a time such as 2026-01-02T15:04:05Z or a date such as 2026-01-02")
		}
		uq.from = t
	}
	if !uq.from.Before(uq.to) {
		return uq, httpapi.InvalidField("from", "must be before to")
	}
	// Compare durations before counting steps so a huge range cannot
	// overflow.
	if uq.to.Sub(uq.from.Truncate(st.step)) > time.Duration(tenantstore.MaxUsagePoints)*st.step {
		return uq, httpapi.InvalidField("from", fmt.Sprintf("the range holds more than %d steps of %s; narrow it or use a larger step", tenantstore.MaxUsagePoints, uq.step))
	}
	return uq, nil
}

func parseUsageTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Parse(time.DateOnly, v)
}

// tenantUsage answers GET /api/tenants/{subdomain}/usage: JSON, or CSV
// when the Accept header asks for text/csv.
func (a *Server) tenantUsage(w http.ResponseWriter, r *http.Request) error {
	uq, err := parseUsageQuery(r, a.now())
	if err != nil {
		return err
	}
	t, err := a.m.Get(r.Context(), mux.Vars(r)["subdomain"])
	if err != nil {
		return err
	}
	items, err := a.usageItems(r, t, uq)
	if err != nil {
		return err
	}
	if strings.Contains(r.Header.Get("Accept"), "text/csv") {
		return writeUsageCSV(w, t.Subdomain, items)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"step": uq.step, "from": items[0].At, "to": uq.to, "items": items})
	return nil
}

func (a *Server) usageItems(r *http.Request, t *tenantstore.Tenant, uq usageQuery) ([]usageItem, error) {
	pts, err := a.m.Store().UsageSeries(r.Context(), t.ID, uq.from, uq.to, usageSteps[uq.step].step)
	if err != nil {
		return nil, err
	}
	items := make([]usageItem, len(pts))
	for i, p := range pts {
		items[i] = newUsageItem(p)
	}
	return items, nil
}

// usageCSVHeader are the CSV columns, the JSON names.
var usageCSVHeader = []string{"at", "requests", "status_2xx", "status_3xx", "status_4xx", "status_5xx", "rate_limited",
	"bytes_out", "p50_ms", "p99_ms", "active_users", "invoices_created", "database_bytes"}

func writeUsageCSV(w http.ResponseWriter, sub string, items []usageItem) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="usage-%s.csv"`, sub))
	cw := csv.NewWriter(w)
	_ = cw.Write(usageCSVHeader)
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	opt := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	for _, it := range items {
		db := ""
		if it.DatabaseBytes != nil {
			db = i64(*it.DatabaseBytes)
		}
		_ = cw.Write([]string{it.At.Format(time.RFC3339), i64(it.Requests), i64(it.Status2xx), i64(it.Status3xx),
			i64(it.Status4xx), i64(it.Status5xx), i64(it.RateLimited), i64(it.BytesOut), opt(it.P50ms), opt(it.P99ms),
			i64(it.ActiveUsers), i64(it.InvoicesCreated), db})
	}
	cw.Flush()
	return cw.Error()
}
