package sales

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

	"github.com/tenantgate/tenantgate/appserver/httpapi"
	"github.com/tenantgate/tenantgate/appserver/webpage"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestPagesEscape checks that tenant data cannot inject markup.
func TestPagesEscape(t *testing.T) {
	evil := `<script>alert(1)</script>`
	d := &webpage.Data{Title: "Customers", Tenant: &tenantstore.Tenant{Name: evil, Subdomain: "acme"}, User: &User{Email: "a@b.c"},
		Data: httpapi.Page[Customer]{Items: []Customer{{ID: uuid.New(), Name: evil}}}}
	rec := httptest.NewRecorder()
	webpage.Render(rec, httptest.NewRequest(http.MethodGet, "/customers", nil), slog.New(slog.NewTextHandler(io.Discard, nil)), tenantPages, http.StatusOK, "customers", d)
	if strings.Contains(rec.Body.String(), evil) {
		t.Errorf("rendered page contains unescaped %s", evil)
	}
}

// BenchmarkRenderCustomers renders a full customers page of 50 rows.
func BenchmarkRenderCustomers(b *testing.B) {
	page := httpapi.Page[Customer]{}
	for i := range 50 {
		page.Items = append(page.Items, Customer{ID: uuid.New(), Name: fmt.Sprintf("Customer %d", i), Email: "c@example.com", CreatedAt: time.Now()})
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := httptest.NewRequest(http.MethodGet, "/customers", nil)
	b.ReportAllocs()
	for b.Loop() {
		d := &webpage.Data{Title: "Customers", Tenant: &tenantstore.Tenant{Name: "Acme", Subdomain: "acme"}, User: &User{Email: "a@b.c"}, Data: page}
		webpage.Render(httptest.NewRecorder(), r, log, tenantPages, http.StatusOK, "customers", d)
	}
}
