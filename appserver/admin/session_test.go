package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/tenantstore"
)

func newSessionAdmin(t testing.TB, now func() time.Time) *Server {
	t.Helper()
	m, err := tenantstore.NewManager(tenantstore.ManagerConfig{Store: new(tenantstore.Store)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Manager: m, Tokens: []string{"token-one", "token-two"}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func withCookie(value string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: Cookie, Value: value})
	return r
}

func TestAdminSession(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	a := newSessionAdmin(t, func() time.Time { return now })
	good, _ := a.newSession("token-two")
	parts := strings.Split(good, ".")
	tests := []struct {
		name, value string
		valid       bool
	}{
		{"fresh", good, true},
		{"other scheme", "v2." + parts[1] + "." + parts[2], false},
		{"extended expiry", "v1.9999999999." + parts[2], false},
		{"tampered mac", good[:len(good)-2] + "AA", false},
		{"garbage", "v1.x.y", false},
		{"empty", "", false},
		{"the token itself", "token-two", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := a.session(withCookie(tc.value)) != ""; got != tc.valid {
				t.Errorf("session(%q) valid = %v, want %v", tc.value, got, tc.valid)
			}
		})
	}
	now = now.Add(DefaultSessionLifetime + time.Second)
	if a.session(withCookie(good)) != "" {
		t.Errorf("session after its lifetime is still valid")
	}
	// Removing the token from ADMIN_TOKENS ends its sessions.
	b := newSessionAdmin(t, func() time.Time { return now })
	b.tokens = b.tokens[:1]
	fresh, _ := b.newSession("token-two")
	if b.session(withCookie(fresh)) != "" {
		t.Errorf("session of a removed token is valid")
	}
}

// FuzzAdminSession feeds arbitrary cookie values (untrusted input) to the
// session check: it must never panic, and only a value it issued is valid.
func FuzzAdminSession(f *testing.F) {
	a := newSessionAdmin(f, time.Now)
	good, _ := a.newSession("token-one")
	for _, s := range []string{good, "", "v1..", "v1.1.", "v1.99999999999999999999.AAAA", "v1.-1.x", strings.Repeat("v1.", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if got := a.session(withCookie(value)); got != "" && got != good {
			t.Errorf("session(%q) = %q, accepted a value it did not issue", value, got)
		}
	})
}

func BenchmarkValidToken(b *testing.B) {
	a := newSessionAdmin(b, time.Now)
	b.ReportAllocs()
	for b.Loop() {
		if !a.validToken("token-two") {
			b.Fatal("token refused")
		}
	}
}

func BenchmarkAdminSession(b *testing.B) {
	a := newSessionAdmin(b, time.Now)
	value, _ := a.newSession("token-two")
	r := withCookie(value)
	b.ReportAllocs()
	for b.Loop() {
		if a.session(r) == "" {
			b.Fatal("session refused")
		}
	}
}
