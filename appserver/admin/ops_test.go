package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAdminOpsNotConfigured(t *testing.T) {
	r := routerForDoc(t)
	for _, path := range []string{"/api/tenants/acme/backups", "/api/tenants/acme/move"} {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"new_url": "postgres://h/db"}`))
		req.Header.Set("Authorization", "Bearer t")
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotImplemented {
			t.Errorf("POST %s without operations = %d, want 501", path, rec.Code)
		}
	}
}
