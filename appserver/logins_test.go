package appserver

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/tenantgate/tenantgate/appserver/sales"
	"github.com/tenantgate/tenantgate/appserver/tenantpool"
)

// TestLoginThrottled: in one process, failed logins lock the account even
// for the right password; the page login answers the same 429.
func TestLoginThrottled(t *testing.T) {
	e := newEnv(t, tenantpool.Config{})
	acme := e.addTenant("acme", 10)
	email := "admin@acme.example.com"
	login := func(password string) response {
		return e.do(acme, call{method: "POST", path: "/api/auth/login", noSession: true, body: map[string]string{"email": email, "password": password}})
	}
	for i := range sales.LoginAccountRule.Max {
		if r := login("wrong"); r.Status != http.StatusUnauthorized {
			t.Fatalf("failed login %d = %d %s, want 401", i+1, r.Status, r.Raw)
		}
	}
	r := login(testPassword)
	if r.Status != http.StatusTooManyRequests || r.errorCode() != "too_many_attempts" {
		t.Fatalf("the right password after %d failures = %d %s, want 429 too_many_attempts", sales.LoginAccountRule.Max, r.Status, r.Raw)
	}
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > int(sales.LoginAccountRule.Window.Seconds()) {
		t.Errorf("Retry-After = %q, want seconds within the window", r.Header.Get("Retry-After"))
	}
	res := e.do(acme, pageCall(acme, http.MethodPost, "/login", url.Values{"email": {email}, "password": {testPassword}}, ""))
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Errorf("POST /login page while throttled = %d (Retry-After %q), want 429 with Retry-After", res.Status, res.Header.Get("Retry-After"))
	}
}
