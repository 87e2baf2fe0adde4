package appserver

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestPagesEscape checks that tenant data cannot inject markup.
func TestPagesEscape(t *testing.T) {
	evil := `<script>alert(1)</script>`
	d := &pageData{Title: "Customers", Tenant: &tenantstore.Tenant{Name: evil, Subdomain: "acme"}, User: &User{Email: "a@b.c"},
		Data: Page[Customer]{Items: []Customer{{ID: uuid.New(), Name: evil}}}}
	rec := httptest.NewRecorder()
	render(rec, httptest.NewRequest(http.MethodGet, "/customers", nil), slog.New(slog.NewTextHandler(io.Discard, nil)), tenantPages, http.StatusOK, "customers", d)
	if strings.Contains(rec.Body.String(), evil) {
		t.Errorf("rendered page contains unescaped %s", evil)
	}
}

// BenchmarkRenderCustomers renders a full customers page of 50 rows.
func BenchmarkRenderCustomers(b *testing.B) {
	page := Page[Customer]{}
	for i := range 50 {
		page.Items = append(page.Items, Customer{ID: uuid.New(), Name: fmt.Sprintf("Customer %d", i), Email: "c@example.com", CreatedAt: time.Now()})
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := httptest.NewRequest(http.MethodGet, "/customers", nil)
	b.ReportAllocs()
	for b.Loop() {
		d := &pageData{Title: "Customers", Tenant: &tenantstore.Tenant{Name: "Acme", Subdomain: "acme"}, User: &User{Email: "a@b.c"}, Data: page}
		render(httptest.NewRecorder(), r, log, tenantPages, http.StatusOK, "customers", d)
	}
}
