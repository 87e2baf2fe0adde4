package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestAppserversFlushUsageOnStop runs two real appservers: the tenant's
// admin works on both, creating one invoice; after a graceful stop
// (SIGTERM) of both, the control plane holds the invoice, the admin as ONE
// active user (the two processes' sets merged), and a database size
// sampled by one of them.
func TestAppserversFlushUsageOnStop(t *testing.T) {
	w := newWorld(t)
	a, b := w.startApp(), w.startApp()
	sa, sb := w.session(a), w.session(b)
	cust := w.do(a, http.MethodPost, "/api/customers", map[string]string{"name": "Ann"}, sa)
	prod := w.do(b, http.MethodPost, "/api/products", map[string]any{"sku": "A", "name": "Apple", "price": "1.00"}, sb)
	if cust.status != 201 || prod.status != 201 {
		t.Fatalf("customer %d %s, product %d %s; want 201s", cust.status, cust.body, prod.status, prod.body)
	}
	id := func(r reply) string {
		_, rest, _ := strings.Cut(string(r.body), `"id":"`)
		v, _, _ := strings.Cut(rest, `"`)
		return v
	}
	inv := w.do(a, http.MethodPost, "/api/invoices", map[string]any{"customer_id": id(cust),
		"lines": []map[string]any{{"product_id": id(prod), "quantity": "2"}}}, sa)
	if inv.status != 201 {
		t.Fatalf("invoice = %d %s, want 201", inv.status, inv.body)
	}
	a.proc.Stop()
	b.proc.Stop()

	var controlDB string
	for _, kv := range w.env {
		if v, ok := strings.CutPrefix(kv, "DATABASE_URL="); ok {
			controlDB = v
		}
	}
	ctx := context.Background()
	store, err := tenantstore.Open(ctx, controlDB)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now()
	pts, err := store.UsageSeries(ctx, w.tenant.ID, now.Add(-10*time.Minute), now.Add(time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var invoices, users int64
	var size *int64
	for _, p := range pts {
		invoices += p.InvoicesCreated
		users = max(users, p.ActiveUsers)
		if p.DatabaseBytes != nil {
			size = p.DatabaseBytes
		}
	}
	if invoices != 1 || users != 1 || size == nil || *size <= 0 {
		t.Errorf("stored usage: %d invoices, peak %d active users, database size %v; want 1, 1 and a size", invoices, users, size)
	}
}
