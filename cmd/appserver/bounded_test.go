package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"
)

// maxRiseKB is the most one request may raise the appserver's peak RSS
// (SPEC §9: responses are bounded).
const maxRiseKB = 10 << 10

// TestBoundedWorkPerRequest seeds the tenant database with the largest
// pages a tenant user can build — 500 invoices of 1,000 lines each, and
// issued invoices on 50,000 distinct days — and checks that no list, page
// or report request raises the real appserver's peak RSS (VmHWM) by more
// than 10 MB.
func TestBoundedWorkPerRequest(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, w.tenantURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var invoiceID string
	for _, q := range []string{
		`INSERT INTO customers (name, email, phone, address) VALUES ('Big Buyer', 'buyer@example.com', '+1 555 0100', 'Somewhere 1')`,
		`INSERT INTO products (sku, name, price) VALUES ('SKU-1', 'Widget', 1.25)`,
		`INSERT INTO invoices (customer_id, status, issued_on)
		 SELECT (SELECT id FROM customers), 'draft', NULL FROM generate_series(1, 500)`,
		`INSERT INTO invoice_lines (invoice_id, position, product_id, quantity, unit_price, amount)
		 SELECT i.id, p, (SELECT id FROM products), 2, 1.25, 2.50 FROM invoices i, generate_series(1, 1000) p`,
		`UPDATE invoices SET total = 2500`,
		// A report attack: issued invoices on many distinct days.
		`INSERT INTO invoices (customer_id, status, issued_on, total)
		 SELECT (SELECT id FROM customers), 'issued', date '1900-01-01' + d, 1 FROM generate_series(1, 50000) d`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("seeding: %v\n%s", err, q)
		}
	}
	if err := conn.QueryRow(ctx, `SELECT id::text FROM invoices ORDER BY number LIMIT 1`).Scan(&invoiceID); err != nil {
		t.Fatal(err)
	}

	a := w.startApp()
	auth := w.session(a)
	cookie := http.Header{"Cookie": {"session=" + auth.Get("Authorization")[len("Bearer "):]}}
	// Warm up: the tenant's pool, the templates, the first JSON encodings.
	for _, p := range []string{"/api/me", "/api/invoices?limit=1", "/api/customers?limit=1"} {
		if r := w.do(a, http.MethodGet, p, nil, auth); r.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", p, r.status, r.body)
		}
	}

	tests := []struct {
		name   string
		path   string
		header http.Header
		status int
	}{
		// The list is newest first: status=draft keeps the 1,000-line invoices
		// on the page rather than the report attack's one-line ones.
		{"invoice list, largest page", "/api/invoices?limit=500&status=draft", auth, http.StatusOK},
		{"invoices page", "/invoices", cookie, http.StatusOK},
		{"one invoice, 1,000 lines", "/api/invoices/" + invoiceID, auth, http.StatusOK},
		{"dashboard", "/", cookie, http.StatusOK},
		// The widest report a user can ask for is refused or bounded.
		{"sales report, every day", "/api/reports/sales?from=1900-01-01&to=2099-12-31", auth, 0},
		{"sales report, a year", "/api/reports/sales?from=1990-01-01&to=1990-12-31", auth, http.StatusOK},
		{"invoice page, 1,000 lines", "/invoices/" + invoiceID, cookie, http.StatusOK},
		{"invoice print view, 1,000 lines", "/invoices/" + invoiceID + "/print", cookie, http.StatusOK},
		// A form of 1,000 rows, each with every product, is not drawn.
		{"invoice edit form, 1,000 lines", "/invoices/" + invoiceID + "/edit", cookie, http.StatusUnprocessableEntity},
		{"reports page, a year", "/reports?from=1990-01-01&to=1990-12-31", cookie, http.StatusOK},
		{"reports CSV, a year", "/reports.csv?table=days&from=1990-01-01&to=1990-12-31", cookie, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := procKB(t, a.pid, "VmHWM")
			r := w.do(a, http.MethodGet, tc.path, nil, tc.header)
			if tc.status != 0 && r.status != tc.status {
				t.Fatalf("GET %s = %d %.300s, want %d", tc.path, r.status, r.body, tc.status)
			}
			rise := procKB(t, a.pid, "VmHWM") - before
			t.Logf("GET %s: %d, %d bytes, peak RSS +%d kB", tc.path, r.status, len(r.body), rise)
			if rise > maxRiseKB {
				t.Errorf("GET %s raised the appserver's peak RSS by %d kB (response %d bytes), want at most %d kB",
					tc.path, rise, len(r.body), maxRiseKB)
			}
		})
	}

	// The list carries headers only; the lines come from the invoice itself.
	r := w.do(a, http.MethodGet, "/api/invoices?limit=2&status=draft", nil, auth)
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Items) != 2 {
		t.Fatalf("GET /api/invoices?limit=2&status=draft = %d %.300s", r.status, r.body)
	}
	if _, ok := list.Items[0]["lines"]; ok {
		t.Errorf("invoice list item has lines; want headers only")
	}
	if n, _ := list.Items[0]["line_count"].(float64); n != 1000 || list.Items[0]["total"] != "2500.00" {
		t.Errorf("invoice list item line_count, total = %v, %v; want 1000, 2500.00", list.Items[0]["line_count"], list.Items[0]["total"])
	}
	r = w.do(a, http.MethodGet, "/api/invoices/"+invoiceID, nil, auth)
	var one struct {
		Lines     []any `json:"lines"`
		LineCount int   `json:"line_count"`
	}
	if err := json.Unmarshal(r.body, &one); err != nil || len(one.Lines) != 1000 || one.LineCount != 1000 {
		t.Errorf("GET /api/invoices/{id}: %d lines, line_count %d; want 1000 and 1000", len(one.Lines), one.LineCount)
	}
}
