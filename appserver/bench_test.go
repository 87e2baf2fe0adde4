package appserver

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tenantgate/tenantgate/appserver/tenantpool"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// tokenBench is a server with a verifier and no database: token checks only.
func tokenBench(b *testing.B) (*Server, *tenanttoken.Verifier, string) {
	b.Helper()
	keys := []tenanttoken.Key{{ID: "k1", Secret: randomBytes(32)}}
	signer, _ := tenanttoken.NewSigner(keys)
	verifier, _ := tenanttoken.NewVerifier(keys)
	dir := &fakeDirectory{tenants: map[string]*tenantstore.Tenant{}}
	s, err := New(Config{Verifier: verifier, Tenants: dir, Locations: dir, BcryptCost: bcrypt.MinCost,
		DSN: func(context.Context, *tenantstore.Tenant) (string, error) { return "", nil }, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	tok, err := signer.Sign("5f0c7a34-3c59-4a43-9d53-3f1c2b9f7a10", "acme", "acme.localhost", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return s, verifier, tok
}

// BenchmarkTokenVerifyWarm is the middleware's check of a token it has seen:
// a cache hit (same bytes, host and expiry checked).
func BenchmarkTokenVerifyWarm(b *testing.B) {
	s, _, tok := tokenBench(b)
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Host = "acme.localhost:8443"
	req.Header.Set(tenanttoken.Header, tok)
	if _, err := s.verifyToken(req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.verifyToken(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenVerifyCold is a full signature and claims check, for
// comparison with the warm path.
func BenchmarkTokenVerifyCold(b *testing.B) {
	_, v, tok := tokenBench(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok, "acme.localhost", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkColdTenantFirstRequest is the first request to a tenant whose pool
// is closed: open a pool, connect, check the session (one query), answer.
// It reports p50 and p99 latency.
func BenchmarkColdTenantFirstRequest(b *testing.B) {
	e := newEnv(b, tenantpool.Config{})
	f := e.addTenant("cold", 10)
	tok, _ := e.signer.Sign(f.ID, f.Subdomain, f.Host, time.Now())
	var took []time.Duration
	for b.Loop() {
		e.srv.Pools().Invalidate(f.ID)
		start := time.Now()
		r := e.do(f, call{method: "GET", path: "/api/me", token: tok})
		took = append(took, time.Since(start))
		if r.Status != 200 {
			b.Fatalf("GET /api/me = %d %s", r.Status, r.Raw)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	if st := e.srv.Pools().Stats(); st.Opens < int64(len(took)) {
		b.Errorf("pool opens = %d over %d requests, want one per request", st.Opens, len(took))
	}
}

// BenchmarkWarmRequest is GET /api/me on a tenant whose pool is open: token
// (cached), tenant, session query, JSON.
func BenchmarkWarmRequest(b *testing.B) {
	e := newEnv(b, tenantpool.Config{})
	f := e.addTenant("warm", 10)
	tok, _ := e.signer.Sign(f.ID, f.Subdomain, f.Host, time.Now())
	e.do(f, call{method: "GET", path: "/api/me", token: tok})
	b.ReportAllocs()
	for b.Loop() {
		if r := e.do(f, call{method: "GET", path: "/api/me", token: tok}); r.Status != 200 {
			b.Fatalf("GET /api/me = %d %s", r.Status, r.Raw)
		}
	}
}
