package appserver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// countingVerifier counts full verifications.
type countingVerifier struct {
	v     *tenanttoken.Verifier
	calls atomic.Int64
}

func (c *countingVerifier) Verify(token, host string, now time.Time) (tenanttoken.Claims, error) {
	c.calls.Add(1)
	return c.v.Verify(token, host, now)
}

func TestTokenCache(t *testing.T) {
	keys := []tenanttoken.Key{{ID: "k1", Secret: randomBytes(32)}}
	signer, _ := tenanttoken.NewSigner(keys)
	v, _ := tenanttoken.NewVerifier(keys)
	cv := &countingVerifier{v: v}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	dir := &fakeDirectory{tenants: map[string]*tenantstore.Tenant{}}
	s, err := New(Config{Verifier: cv, Tenants: dir, Locations: dir, BcryptCost: bcrypt.MinCost, TokenCacheSize: 8,
		DSN: func(context.Context, *tenantstore.Tenant) (string, error) { return "", nil }, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Now: func() time.Time { return *clock.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok, _ := signer.Sign("tenant-1", "acme", "acme.localhost", now)
	check := func(host string) error {
		r := httptest.NewRequest("GET", "/api/me", nil)
		r.Host = host
		r.Header.Set(tenanttoken.Header, tok)
		_, err := s.verifyToken(r)
		return err
	}
	steps := []struct {
		name    string
		advance time.Duration
		host    string
		ok      bool
		calls   int64 // full verifications so far
	}{
		{"first use verifies", 0, "acme.localhost", true, 1},
		{"second use is a cache hit", 0, "acme.localhost:8443", true, 1},
		{"cached token on another host", 0, "globex.localhost", false, 2},
		{"cached token near expiry", 60 * time.Second, "acme.localhost", true, 2},
		{"cached token past expiry and skew", 6 * time.Second, "acme.localhost", false, 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			next := clock.Load().Add(st.advance)
			clock.Store(&next)
			err := check(st.host)
			if (err == nil) != st.ok {
				t.Errorf("verifyToken(host %s) = %v, want ok %v", st.host, err, st.ok)
			}
			if got := cv.calls.Load(); got != st.calls {
				t.Errorf("full verifications = %d, want %d", got, st.calls)
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		c := newTokenCache(8)
		for i := range 100 {
			c.put(fmt.Sprint(i), tenanttoken.Claims{ExpiresAt: now.Add(time.Hour)}, now)
		}
		if n := len(c.m); n > 8 {
			t.Errorf("cache of 8 after 100 puts holds %d", n)
		}
	})
}
