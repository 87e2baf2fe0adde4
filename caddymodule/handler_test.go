package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddytls"

	"github.com/tenantgate/tenantgate/internal/meter"
	"github.com/tenantgate/tenantgate/internal/tenanttoken"
	"github.com/tenantgate/tenantgate/tenantstore"
	"github.com/tenantgate/tenantgate/tenantstore/resolver"
)

var testKeys = []tenanttoken.Key{{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}}

// fakeResolver answers from a map; a host missing from it is unknown.
type fakeResolver struct {
	mu      sync.Mutex
	tenants map[string]*tenantstore.Tenant
	err     error
}

func (f *fakeResolver) ResolveHost(_ context.Context, host string) (*tenantstore.Tenant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if t, ok := f.tenants[host]; ok {
		return t, nil
	}
	return nil, tenantstore.ErrNotFound
}

func (f *fakeResolver) set(host string, t *tenantstore.Tenant) {
	f.mu.Lock()
	f.tenants[host] = t
	f.mu.Unlock()
}

func testTenants() map[string]*tenantstore.Tenant {
	acme := &tenantstore.Tenant{ID: "11111111-1111-1111-1111-111111111111", Name: "Acme Inc", Subdomain: "acme", Status: tenantstore.StatusActive}
	return map[string]*tenantstore.Tenant{
		"acme.example.com":   acme,
		"shop.acme.test":     acme, // a verified custom domain
		"globex.example.com": {ID: "22222222-2222-2222-2222-222222222222", Name: "Globex", Subdomain: "globex", Status: tenantstore.StatusSuspended},
		"initech.example.com": {ID: "33333333-3333-3333-3333-333333333333", Name: "Initech", Subdomain: "initech",
			Status: tenantstore.StatusMaintenance},
		"hooli.example.com": {ID: "44444444-4444-4444-4444-444444444444", Name: "Hooli", Subdomain: "hooli", Status: tenantstore.StatusProvisioning},
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestHandler(t testing.TB, res hostResolver, now func() time.Time) *Handler {
	t.Helper()
	signer, err := tenanttoken.NewSigner(testKeys)
	if err != nil {
		t.Fatal(err)
	}
	return &Handler{
		resolver:   res,
		tokens:     newTokenCache(signer, now),
		retryAfter: retryAfterSeconds(DefaultRetryAfter),
	}
}

// newRequest returns a request prepared as Caddy's server prepares it: with
// a replacer and extra log fields in its context.
func newRequest(host string, header http.Header) (*http.Request, *caddy.Replacer) {
	r := httptest.NewRequest(http.MethodGet, "http://placeholder/invoices", nil)
	r.Host = host
	for k, v := range header {
		r.Header[k] = v
	}
	repl := caddy.NewReplacer()
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl)
	ctx = context.WithValue(ctx, caddyhttp.ExtraLogFieldsCtxKey, new(caddyhttp.ExtraLogFields))
	return r.WithContext(ctx), repl
}

// recorder is the next handler: it records the request it was passed.
type recorder struct {
	req *http.Request
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	rec.req = r
	w.WriteHeader(http.StatusOK)
	return nil
}

func TestHandlerPassesActiveTenant(t *testing.T) {
	h := newTestHandler(t, &fakeResolver{tenants: testTenants()}, time.Now)
	v, err := tenanttoken.NewVerifier(testKeys)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, host, wantHost string
	}{
		{"subdomain", "acme.example.com", "acme.example.com"},
		{"upper case with port", "ACME.Example.com:8443", "acme.example.com"},
		{"trailing dot", "acme.example.com.", "acme.example.com"},
		{"custom domain", "shop.acme.test", "shop.acme.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, repl := newRequest(tt.host, http.Header{
				"X-Tenant-Token": {"forged"},
				"X-Tenant-Id":    {"22222222-2222-2222-2222-222222222222"},
				"X-Tenantish":    {"x"},
				"x-tenant-raw":   {"non-canonical"},
				"X_Tenant_Id":    {"cgi spelling"},
				"X-Other":        {"kept"},
			})
			rec := &recorder{}
			if err := h.ServeHTTP(httptest.NewRecorder(), r, rec); err != nil {
				t.Fatalf("ServeHTTP(%q) = %v, want nil", tt.host, err)
			}
			if rec.req == nil {
				t.Fatalf("ServeHTTP(%q) did not call next", tt.host)
			}
			for k := range rec.req.Header {
				if strings.HasPrefix(strings.ReplaceAll(strings.ToLower(k), "_", "-"), "x-tenant") && k != tenanttoken.Header {
					t.Errorf("header %q reached the upstream, want it deleted", k)
				}
			}
			if got := rec.req.Header.Get("X-Other"); got != "kept" {
				t.Errorf("X-Other = %q, want kept", got)
			}
			toks := rec.req.Header.Values(tenanttoken.Header)
			if len(toks) != 1 {
				t.Fatalf("%s values = %q, want exactly one", tenanttoken.Header, toks)
			}
			c, err := v.Verify(toks[0], tt.host, time.Now())
			if err != nil {
				t.Fatalf("Verify(token) = %v, want nil", err)
			}
			if c.Subdomain != "acme" || c.Host != tt.wantHost || c.TenantID != "11111111-1111-1111-1111-111111111111" {
				t.Errorf("claims = %+v, want tenant acme at %s", c, tt.wantHost)
			}
			got := repl.ReplaceAll("{tenant.id}|{tenant.subdomain}|{tenant.name}|{tenant.status}", "")
			if want := "11111111-1111-1111-1111-111111111111|acme|Acme Inc|active"; got != want {
				t.Errorf("placeholders = %q, want %q", got, want)
			}
		})
	}
}

func TestHandlerRefuses(t *testing.T) {
	long := strings.Repeat("a", 300) + ".example.com"
	tests := []struct {
		name       string
		host       string
		resErr     error
		wantStatus int
		wantCode   string
		retryAfter bool
	}{
		{"unknown tenant", "nobody.example.com", nil, 404, "tenant_not_found", false},
		{"suspended", "globex.example.com", nil, 403, "tenant_suspended", false},
		{"maintenance", "initech.example.com", nil, 503, "tenant_maintenance", true},
		{"store unavailable", "acme.example.com", tenantstore.ErrUnavailable, 503, "service_unavailable", true},
		{"unexpected resolver error", "acme.example.com", errors.New("boom"), 503, "service_unavailable", true},
		{"empty host", "", nil, 400, "invalid_host", false},
		{"user info", "user@acme.example.com", nil, 400, "invalid_host", false},
		{"two dots", "acme..example.com", nil, 400, "invalid_host", false},
		{"300 characters", long, nil, 400, "invalid_host", false},
		{"NUL", "acme.example.com\x00", nil, 400, "invalid_host", false},
		{"IP literal v6", "[::1]:443", nil, 400, "invalid_host", false},
		{"bad port", "acme.example.com:x", nil, 400, "invalid_host", false},
		{"underscore", "ac_me.example.com", nil, 400, "invalid_host", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(t, &fakeResolver{tenants: testTenants(), err: tt.resErr}, time.Now)
			r, _ := newRequest(tt.host, nil)
			w := httptest.NewRecorder()
			rec := &recorder{}
			err := h.ServeHTTP(w, r, rec)
			if rec.req != nil {
				t.Fatalf("ServeHTTP(%q) called next, want a refusal", tt.host)
			}
			he, ok := errors.AsType[caddyhttp.HandlerError](err)
			if !ok {
				t.Fatalf("ServeHTTP(%q) = %v, want a caddyhttp.HandlerError", tt.host, err)
			}
			if he.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", he.StatusCode, tt.wantStatus)
			}
			if got := describe(err); got.Code != tt.wantCode || got.Status != tt.wantStatus {
				t.Errorf("describe(err) = %d %s, want %d %s", got.Status, got.Code, tt.wantStatus, tt.wantCode)
			}
			if got := w.Header().Get("Retry-After"); (got != "") != tt.retryAfter {
				t.Errorf("Retry-After = %q, want present: %v", got, tt.retryAfter)
			}
		})
	}
}

func TestHandlerReusesTokenForHalfItsLifetime(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	res := &fakeResolver{tenants: testTenants()}
	h := newTestHandler(t, res, clock.Now)
	token := func() string {
		t.Helper()
		r, _ := newRequest("acme.example.com", nil)
		rec := &recorder{}
		if err := h.ServeHTTP(httptest.NewRecorder(), r, rec); err != nil {
			t.Fatal(err)
		}
		return rec.req.Header.Get(tenanttoken.Header)
	}
	first := token()
	clock.Add(tenanttoken.Lifetime/2 - time.Second)
	if got := token(); got != first {
		t.Errorf("token before half lifetime changed, want reused")
	}
	clock.Add(2 * time.Second)
	second := token()
	if second == first {
		t.Errorf("token after half lifetime reused, want a fresh one")
	}
	// A change to the tenant (a rename) gives a new token at once.
	renamed := *res.tenants["acme.example.com"]
	renamed.Name = "Acme Renamed"
	res.set("acme.example.com", &renamed)
	clock.Add(time.Second)
	if got := token(); got == second {
		t.Errorf("token after the tenant changed reused, want a fresh one")
	}
}

func TestErrorPage(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		accept     string
		wantStatus int
		wantJSON   bool
		wantCode   string
	}{
		{"refusal as JSON", caddyhttp.Error(404, errUnknownTenant), "application/json", 404, true, "tenant_not_found"},
		{"refusal as HTML", caddyhttp.Error(403, errSuspended), "text/html,application/xhtml+xml,*/*;q=0.8", 403, false, "tenant_suspended"},
		{"no Accept gets HTML", caddyhttp.Error(400, errInvalidHost), "", 400, false, "invalid_host"},
		{"proxy error hides its cause", caddyhttp.Error(502, errors.New("dial tcp 10.0.0.7:8000: connection refused")), "application/json", 502, true, "bad_gateway"},
		{"cause stays in the log only", caddyhttp.Error(503, &Refusal{Status: 503, Code: "service_unavailable", Message: "Try later.", cause: errors.New("secret detail")}), "application/json", 503, true, "service_unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, repl := newRequest("acme.example.com", http.Header{"Accept": {tt.accept}})
			repl.Set("http.error", tt.err)
			w := httptest.NewRecorder()
			if err := new(ErrorPage).ServeHTTP(w, r, nil); err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			body := w.Body.String()
			if strings.Contains(body, "10.0.0.7") || strings.Contains(body, "secret detail") {
				t.Errorf("body %q shows an internal error", body)
			}
			if !tt.wantJSON {
				if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, tt.wantCode) {
					t.Errorf("HTML page: Content-Type %q, body %q; want text/html naming %s", ct, body, tt.wantCode)
				}
				return
			}
			var got struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q is not JSON: %v", body, err)
			}
			if got.Error.Code != tt.wantCode || got.Error.Message == "" {
				t.Errorf("JSON error = %+v, want code %s and a message", got.Error, tt.wantCode)
			}
		})
	}
}

func TestPermission(t *testing.T) {
	tests := []struct {
		name    string
		host    string
		resErr  error
		allowed bool
	}{
		{"active tenant subdomain", "acme.example.com", nil, true},
		{"verified custom domain of an active tenant", "shop.acme.test", nil, true},
		{"admin host", "admin.example.com", nil, true},
		{"admin host while the store is down", "admin.example.com", tenantstore.ErrUnavailable, true},
		{"suspended tenant (its 403 page needs a handshake)", "globex.example.com", nil, true},
		{"tenant in maintenance (its 503 page needs a handshake)", "initech.example.com", nil, true},
		{"tenant still provisioning", "hooli.example.com", nil, false},
		{"unknown name", "nobody.example.com", nil, false},
		{"invalid name", "a..example.com", nil, false},
		{"store unavailable, nothing known", "acme.example.com", tenantstore.ErrUnavailable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Permission{app: &App{adminHost: "admin.example.com"}, resolver: &fakeResolver{tenants: testTenants(), err: tt.resErr}}
			err := p.CertificateAllowed(context.Background(), tt.host)
			if tt.allowed && err != nil {
				t.Errorf("CertificateAllowed(%q) = %v, want nil", tt.host, err)
			}
			if !tt.allowed && !errors.Is(err, caddytls.ErrPermissionDenied) {
				t.Errorf("CertificateAllowed(%q) = %v, want ErrPermissionDenied", tt.host, err)
			}
		})
	}
}

// memSource is an in-memory resolver.Source.
type memSource struct {
	bySub map[string]*tenantstore.Tenant
}

func (m memSource) Get(_ context.Context, id string) (*tenantstore.Tenant, error) {
	for _, t := range m.bySub {
		if t.ID == id {
			return t, nil
		}
	}
	return nil, tenantstore.ErrNotFound
}

func (m memSource) GetBySubdomain(_ context.Context, sub string) (*tenantstore.Tenant, error) {
	if t, ok := m.bySub[sub]; ok {
		return t, nil
	}
	return nil, tenantstore.ErrNotFound
}

func (m memSource) GetByHostname(context.Context, string) (*tenantstore.Tenant, error) {
	return nil, tenantstore.ErrNotFound
}

// nopHandler is the end of the chain in benchmarks.
type nopHandler struct{}

func (nopHandler) ServeHTTP(http.ResponseWriter, *http.Request) error { return nil }

// BenchmarkHandlerWarm measures one request of a known tenant with the real
// resolver (memory layer warm) and a cached token: what the edge adds to
// every request. Each request gets its own header map, replacer and log
// fields as Caddy's server gives it (built in batches outside the timer).
func BenchmarkHandlerWarm(b *testing.B) { benchmarkHandler(b, nil) }

func benchmarkHandler(b *testing.B, g *guard) { benchmarkHandlerWith(b, g, nil) }

// BenchmarkHandlerWarmLimited is BenchmarkHandlerWarm with every limit on:
// the tenant's rate and in-flight cap, and the whole edge's bound (never
// reached, as in normal operation).
func BenchmarkHandlerWarmLimited(b *testing.B) {
	g, err := newGuard(&LimitsConfig{RatePerSecond: 1e6, Burst: 1e6, MaxInFlight: 100},
		&ShedConfig{MaxInFlight: 1000}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(g.close)
	benchmarkHandler(b, g)
}

func benchmarkHandlerWith(b *testing.B, g *guard, m *meter.Edge) {
	acme := &tenantstore.Tenant{ID: "11111111-1111-1111-1111-111111111111", Name: "Acme Inc", Subdomain: "acme", Status: tenantstore.StatusActive}
	res, err := resolver.New(resolver.Config{BaseDomain: "example.com"}, memSource{bySub: map[string]*tenantstore.Tenant{"acme": acme}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = res.Close() })
	h := newTestHandler(b, res, time.Now)
	h.guard = g
	h.meter = m
	w := httptest.NewRecorder()
	const batch = 4096
	reqs := make([]*http.Request, batch)
	build := func() {
		for i := range reqs {
			r, repl := newRequest("acme.example.com", http.Header{
				"Accept":          {"text/html"},
				"User-Agent":      {"bench"},
				"Accept-Encoding": {"gzip"},
				"Cookie":          {"session=abc"},
				"X-Tenant-Id":     {"forged"},
			})
			// Caddy's server adds its HTTP variables provider the same way.
			repl.Map(func(string) (any, bool) { return nil, false })
			reqs[i] = r
		}
	}
	build()
	if err := h.ServeHTTP(w, reqs[0], nopHandler{}); err != nil { // warm the resolver and the token
		b.Fatal(err)
	}
	next := batch
	b.ReportAllocs()
	for b.Loop() {
		if next == batch {
			b.StopTimer()
			build()
			next = 0
			b.StartTimer()
		}
		if err := h.ServeHTTP(w, reqs[next], nopHandler{}); err != nil {
			b.Fatal(err)
		}
		next++
	}
}

// FuzzHandlerHost feeds arbitrary Host values to the handler: it passes on
// only hosts of the active tenant and answers everything else with 400 or
// 404 (or 403/503 for the known inactive tenants), never another error.
func FuzzHandlerHost(f *testing.F) {
	for _, s := range []string{"acme.example.com", "ACME.example.com.:443", "user@acme.example.com", "a..b", "", "\x00", "[::1]:80", "globex.example.com", strings.Repeat("a.", 200)} {
		f.Add(s)
	}
	h := newTestHandler(f, &fakeResolver{tenants: testTenants()}, time.Now)
	f.Fuzz(func(t *testing.T, host string) {
		r, _ := newRequest("x", nil)
		r.Host = host
		rec := &recorder{}
		err := h.ServeHTTP(httptest.NewRecorder(), r, rec)
		if err == nil {
			if rec.req == nil || rec.req.Header.Get(tenanttoken.Header) == "" {
				t.Fatalf("Host %q: passed on without a token", host)
			}
			return
		}
		he, ok := errors.AsType[caddyhttp.HandlerError](err)
		if !ok {
			t.Fatalf("Host %q: error %v is not a HandlerError", host, err)
		}
		switch he.StatusCode {
		case 400, 403, 404, 503:
		default:
			t.Fatalf("Host %q: status %d, want 400, 403, 404 or 503", host, he.StatusCode)
		}
	})
}
