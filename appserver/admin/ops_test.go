package admin

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
)

// waitJob polls GET /api/jobs/{id} until the job has finished.
func (e *adminEnv) waitJob(id string) map[string]any {
	e.t.Helper()
	var job map[string]any
	if !eventually(60*time.Second, func() bool {
		job = e.must(http.StatusOK, e.api(http.MethodGet, "/api/jobs/"+id, nil), "get job").Body
		return job["status"] == "succeeded" || job["status"] == "failed"
	}) {
		e.t.Fatalf("job %s not finished after 60 s: %v", id, job)
	}
	return job
}

func TestAdminOps(t *testing.T) {
	e := newAdminEnv(t)
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{"name": "Acme", "subdomain": "acme", "admin_email": "a@acme.example.com"}), "create acme")

	t.Run("backup", func(t *testing.T) {
		res := e.must(http.StatusAccepted, e.api(http.MethodPost, "/api/tenants/acme/backups", nil), "start backup")
		id, _ := res.Body["id"].(string)
		if id == "" || res.Header.Get("Location") != "/api/jobs/"+id || res.Body["kind"] != "backup" {
			t.Fatalf("start backup = %s (Location %q), want a backup job and its location", res.Raw, res.Header.Get("Location"))
		}
		job := e.waitJob(id)
		if job["status"] != "succeeded" {
			t.Fatalf("backup job = %v, want succeeded", job)
		}
		file, _ := job["result"].(map[string]any)["file"].(string)
		if _, err := os.Stat(file); err != nil || filepath.Dir(file) != e.backups {
			t.Errorf("backup file %q: %v; want a file in %s", file, err, e.backups)
		}
		e.must(http.StatusNotFound, e.api(http.MethodPost, "/api/tenants/nobody/backups", nil), "backup unknown tenant")
		if res := e.api(http.MethodPost, "/api/tenants/acme/backups", `{"dir": "/etc"}`); res.Status != http.StatusBadRequest || res.errorField() != "dir" {
			t.Errorf("backup naming a directory = %d field %q, want 400 naming dir (clients cannot choose paths)", res.Status, res.errorField())
		}
	})

	t.Run("move", func(t *testing.T) {
		for _, body := range []any{map[string]any{}, map[string]any{"new_url": "mysql://x/y"}, map[string]any{"new_url": "postgres:///nohost"}} {
			if res := e.api(http.MethodPost, "/api/tenants/acme/move", body); res.Status != http.StatusBadRequest || res.errorField() != "new_url" {
				t.Errorf("move %v = %d field %q, want 400 naming new_url", body, res.Status, res.errorField())
			}
		}
		target := testenv.WithDatabase(testenv.PostgresURL(), e.prefix+"moved")
		res := e.must(http.StatusAccepted, e.api(http.MethodPost, "/api/tenants/acme/move", map[string]any{"new_url": target}), "start move")
		if strings.Contains(string(res.Raw), target) {
			t.Errorf("move answer shows the target URL")
		}
		job := e.waitJob(res.Body["id"].(string))
		if job["status"] != "succeeded" {
			t.Fatalf("move job = %v, want succeeded", job)
		}
		res = e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants/acme", nil), "show moved")
		if db := res.Body["database"].(map[string]any); db["kind"] != "url" || res.Body["database_status"] != "ok" || res.Body["status"] != "active" {
			t.Errorf("moved tenant = %s, want an explicit URL placement, reachable, active", res.Raw)
		}
	})

	t.Run("jobs", func(t *testing.T) {
		e.must(http.StatusNotFound, e.api(http.MethodGet, "/api/jobs/00000000-0000-0000-0000-000000000000", nil), "unknown job")
		e.must(http.StatusNotFound, e.api(http.MethodGet, "/api/jobs/not-a-uuid", nil), "malformed job id")
	})
}

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
