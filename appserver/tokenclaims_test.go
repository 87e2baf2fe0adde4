package appserver

import (
	"net/http"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// TestTokenClaimsMustMatchTenant signs tokens with the real key whose sub,
// tenant and host claims disagree with one another: the token verifies, but
// the appserver must serve only a token whose tenant and host are the
// current subdomain (at BASE_DOMAIN) or a verified custom domain of the
// tenant that sub names.
func TestTokenClaimsMustMatchTenant(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	globex := e.addTenant("globex", 10)
	withDomains := *acme.Tenant
	withDomains.Domains = []tenantstore.Domain{
		{Hostname: "shop.acme.test", Verified: true},
		{Hostname: "pending.acme.test", Verified: false},
	}
	e.dir.put(&withDomains)

	tests := []struct {
		name        string
		sub, tenant string // claims
		host        string // the host claim and the request's Host
		want        int
	}{
		{"matching claims", acme.ID, "acme", "acme.localhost", http.StatusOK},
		{"verified custom domain", acme.ID, "acme", "shop.acme.test", http.StatusOK},
		{"sub of acme, tenant globex", acme.ID, "globex", "acme.localhost", http.StatusUnauthorized},
		{"sub of acme, host of globex", acme.ID, "acme", "globex.localhost", http.StatusUnauthorized},
		{"sub of acme, tenant and host of globex", acme.ID, "globex", "globex.localhost", http.StatusUnauthorized},
		{"sub of globex, tenant and host of acme", globex.ID, "acme", "acme.localhost", http.StatusUnauthorized},
		{"unverified custom domain", acme.ID, "acme", "pending.acme.test", http.StatusUnauthorized},
		{"custom domain of nobody", acme.ID, "acme", "evil.example.org", http.StatusUnauthorized},
		{"subdomain under another base domain", acme.ID, "acme", "acme.example.org", http.StatusUnauthorized},
		{"nested subdomain", acme.ID, "acme", "x.acme.localhost", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := e.signer.Sign(tc.sub, tc.tenant, tc.host, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			// Twice: the second answer comes from the cache of verified tokens.
			for range 2 {
				r := e.do(acme, call{method: "GET", path: "/api/me", token: tok, host: tc.host})
				if r.Status != tc.want {
					t.Fatalf("GET /api/me with sub=%s tenant=%q host=%s = %d %s, want %d", tc.sub, tc.tenant, tc.host, r.Status, r.Raw, tc.want)
				}
				if tc.want == http.StatusUnauthorized && r.errorCode() != "invalid_tenant_token" {
					t.Errorf("error code = %q, want invalid_tenant_token", r.errorCode())
				}
			}
		})
	}

	t.Run("after a rename the old subdomain's token is refused", func(t *testing.T) {
		old, err := e.signer.Sign(acme.ID, "acme", "acme.localhost", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if r := e.do(acme, call{method: "GET", path: "/api/me", token: old}); r.Status != http.StatusOK {
			t.Fatalf("before the rename: GET /api/me = %d %s, want 200", r.Status, r.Raw)
		}
		renamed := withDomains
		renamed.Subdomain = "acme-corp"
		e.dir.put(&renamed)
		if r := e.do(acme, call{method: "GET", path: "/api/me", token: old, host: "acme.localhost"}); r.Status != http.StatusUnauthorized {
			t.Errorf("token for the old subdomain after the rename = %d %s, want 401", r.Status, r.Raw)
		}
		fresh, err := e.signer.Sign(acme.ID, "acme-corp", "acme-corp.localhost", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if r := e.do(acme, call{method: "GET", path: "/api/me", token: fresh, host: "acme-corp.localhost"}); r.Status != http.StatusOK {
			t.Errorf("token for the new subdomain = %d %s, want 200", r.Status, r.Raw)
		}
	})
}
