package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestDomainCertificateStatus: a custom domain whose certificate an edge
// stored in the shared certificate storage shows when it was stored, in the
// API and on the tenant page; one without shows none. The private key
// stored beside it is never read or shown.
func TestDomainCertificateStatus(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants", map[string]any{"name": "Acme", "subdomain": "acme",
		"admin_email": "boss@acme.example.com"}), "create acme")
	for _, h := range []string{"shop.acme.test", "new.acme.test"} {
		e.must(http.StatusCreated, e.api(http.MethodPost, "/api/tenants/acme/domains", map[string]any{"hostname": h}), "add "+h)
	}
	conn, err := pgx.Connect(ctx, e.control)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const issuer = "certificates/acme-v02.api.letsencrypt.org-directory/shop.acme.test/"
	if _, err := conn.Exec(ctx, `INSERT INTO cert_storage (key, value, size, modified) VALUES
		($1, 'CERT', 4, '2026-11-01T10:00:00Z'), ($2, 'PRIVATE KEY SECRET', 18, '2026-11-01T10:00:00Z'),
		('certificates/other-issuer/shop.acme.test.evil/shop.acme.test.evil.crt', 'X', 1, now())`,
		issuer+"shop.acme.test.crt", issuer+"shop.acme.test.key"); err != nil {
		t.Fatal(err)
	}

	res := e.must(http.StatusOK, e.api(http.MethodGet, "/api/tenants/acme/domains", nil), "list domains")
	got := map[string]any{}
	for _, it := range res.Body["items"].([]any) {
		d := it.(map[string]any)
		got[d["hostname"].(string)] = d["certificate_stored_at"]
	}
	if got["shop.acme.test"] != "2026-11-01T10:00:00Z" {
		t.Errorf("shop.acme.test certificate_stored_at = %v, want 2026-11-01T10:00:00Z", got["shop.acme.test"])
	}
	if v, ok := got["new.acme.test"]; !ok || v != nil {
		t.Errorf("new.acme.test certificate_stored_at = %v (present %v), want null", v, ok)
	}

	session, _ := e.login()
	page := e.browse(http.MethodGet, "/tenants/acme", nil, session, nil).Body.String()
	if !strings.Contains(page, `datetime="2026-11-01T10:00:00Z"`) || !strings.Contains(page, "none stored") {
		t.Errorf("tenant page lacks the certificate status of its domains:\n%s", page)
	}
	if strings.Contains(page, "PRIVATE KEY") || strings.Contains(string(res.Raw), "PRIVATE KEY") {
		t.Error("a stored private key reached the page or the API")
	}
}
