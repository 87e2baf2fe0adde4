package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// newLimitedHandler is a test handler with a guard of limits and shed.
func newLimitedHandler(t *testing.T, res hostResolver, limits *LimitsConfig, shed *ShedConfig) *Handler {
	t.Helper()
	h := newTestHandler(t, res, time.Now)
	g, err := newGuard(limits, shed, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.close)
	h.guard = g
	return h
}

// serve sends one request for host and returns the status the client
// would see (200 when passed on) and the answer's Retry-After.
func serve(t *testing.T, h *Handler, host string, next caddyhttp.Handler) (int, string, *Refusal) {
	t.Helper()
	r, _ := newRequest(host, nil)
	w := httptest.NewRecorder()
	err := h.ServeHTTP(w, r, next)
	if err == nil {
		return http.StatusOK, w.Header().Get("Retry-After"), nil
	}
	ref := describe(err)
	return ref.Status, w.Header().Get("Retry-After"), ref
}

func TestHandlerRateLimit(t *testing.T) {
	tenants := testTenants()
	own := *tenants["acme.example.com"]
	own.ID, own.Subdomain = "55555555-5555-5555-5555-555555555555", "wayne"
	rate, burst := 1.0, 2
	own.Limits = tenantstore.TenantLimits{RatePerSecond: &rate, Burst: &burst}
	tenants["wayne.example.com"] = &own
	tenants["other.example.com"] = &tenantstore.Tenant{ID: "66666666-6666-6666-6666-666666666666", Name: "Other", Subdomain: "other", Status: tenantstore.StatusActive}
	// Its plan's limits (issue 17), carried in the cached tenant; its own
	// burst wins over the plan's where both are set.
	planRate, planBurst, ownBurst := 1.0, 3, 4
	tenants["plan.example.com"] = &tenantstore.Tenant{ID: "77777777-7777-7777-7777-777777777777", Name: "Plan", Subdomain: "plan", Status: tenantstore.StatusActive,
		PlanLimits: tenantstore.TenantLimits{RatePerSecond: &planRate, Burst: &planBurst}}
	tenants["both.example.com"] = &tenantstore.Tenant{ID: "88888888-8888-8888-8888-888888888888", Name: "Both", Subdomain: "both", Status: tenantstore.StatusActive,
		Limits: tenantstore.TenantLimits{Burst: &ownBurst}, PlanLimits: tenantstore.TenantLimits{RatePerSecond: &planRate, Burst: &planBurst}}
	h := newLimitedHandler(t, &fakeResolver{tenants: tenants}, &LimitsConfig{RatePerSecond: 5, Burst: 5}, nil)

	tests := []struct {
		host     string
		wantPass int
		minRetry int
		maxRetry int
	}{
		{"acme.example.com", 5, 1, 1},  // the default: 5/s, burst 5
		{"wayne.example.com", 2, 1, 1}, // its own: 1/s, burst 2
		{"plan.example.com", 3, 1, 1},  // its plan's: 1/s, burst 3
		{"both.example.com", 4, 1, 1},  // the plan's 1/s, its own burst 4
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			passed := 0
			for range 20 {
				status, retry, ref := serve(t, h, tt.host, &recorder{})
				if status == http.StatusOK {
					passed++
					continue
				}
				if status != http.StatusTooManyRequests || ref.Code != "rate_limited" {
					t.Fatalf("refusal = %d %s, want 429 rate_limited", status, ref.Code)
				}
				if n, err := strconv.Atoi(retry); err != nil || n < tt.minRetry || n > tt.maxRetry {
					t.Errorf("Retry-After = %q, want %d to %d seconds", retry, tt.minRetry, tt.maxRetry)
				}
			}
			if passed != tt.wantPass {
				t.Errorf("passed %d of 20 back-to-back requests, want %d", passed, tt.wantPass)
			}
		})
	}
	// Another tenant is unaffected by the two over their limits.
	if status, _, _ := serve(t, h, "other.example.com", &recorder{}); status != http.StatusOK {
		t.Errorf("other tenant = %d, want 200", status)
	}
}

// blocker is a next handler that holds requests until released.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blocker) ServeHTTP(w http.ResponseWriter, _ *http.Request) error {
	b.entered <- struct{}{}
	<-b.release
	w.WriteHeader(http.StatusOK)
	return nil
}

func TestHandlerInFlightCapAndShed(t *testing.T) {
	h := newLimitedHandler(t, &fakeResolver{tenants: testTenants()}, &LimitsConfig{MaxInFlight: 2},
		&ShedConfig{MaxInFlight: 3, QueueTimeout: caddy.Duration(20 * time.Millisecond)})
	b := &blocker{entered: make(chan struct{}, 10), release: make(chan struct{})}
	tenants := testTenants()
	other := &tenantstore.Tenant{ID: "77777777-7777-7777-7777-777777777777", Name: "Other", Subdomain: "other", Status: tenantstore.StatusActive}
	tenants["other.example.com"] = other
	h.resolver = &fakeResolver{tenants: tenants}

	var wg sync.WaitGroup
	hold := func(host string) {
		wg.Go(func() {
			if status, _, _ := serve(t, h, host, b); status != http.StatusOK {
				t.Errorf("held request for %s = %d, want 200", host, status)
			}
		})
		<-b.entered
	}
	hold("acme.example.com")
	hold("acme.example.com")
	// acme is at its cap of 2: 429, not queued.
	if status, retry, ref := serve(t, h, "acme.example.com", b); status != http.StatusTooManyRequests || ref.Code != "rate_limited" || retry != "1" {
		t.Errorf("third acme request = %d %v Retry-After %q, want 429 rate_limited, Retry-After 1", status, ref, retry)
	}
	hold("other.example.com")
	// The edge's 3 slots are taken: other waits 20ms, then 503 overloaded.
	status, retry, ref := serve(t, h, "other.example.com", b)
	if status != http.StatusServiceUnavailable || ref.Code != "overloaded" || retry != "1" {
		t.Errorf("request past the edge's bound = %d %v Retry-After %q, want 503 overloaded, Retry-After 1", status, ref, retry)
	}
	close(b.release)
	wg.Wait()
	if n, q := h.guard.shed.InFlight(), h.guard.shed.Queued(); n != 0 || q != 0 {
		t.Errorf("after every request ended: in flight %d, queued %d; want 0, 0", n, q)
	}
}

// TestLimitMetricsLabelTheBusiest: after a sweep, the busiest tenants
// (up to maxTenantSeries) count under their own label and the rest under
// "_other"; a tenant that goes quiet loses its series.
func TestLimitMetricsLabelTheBusiest(t *testing.T) {
	g, err := newGuard(&LimitsConfig{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.close)
	hit := func(id, sub string, n int) {
		for range n {
			k, _, _ := g.tenants.Acquire(id, sub, g.defaults)
			k.Release()
		}
	}
	for i := range maxTenantSeries + 20 {
		hit(strconv.Itoa(i), "t"+strconv.Itoa(i), i+1) // t0 quietest
	}
	g.metrics.relabel(g.tenants)
	labels := map[string]bool{}
	for k, label := range g.metrics.labelled {
		labels[label] = true
		if k.Extra.Load() == nil {
			t.Errorf("labelled tenant %s has no series", label)
		}
	}
	if len(labels) != maxTenantSeries || labels["t0"] || !labels["t119"] {
		t.Errorf("labelled %d tenants (t0: %v, t119: %v), want the %d busiest", len(labels), labels["t0"], labels["t119"], maxTenantSeries)
	}
	// Only t0 is busy in the next interval: it gets a label, the others
	// lose theirs.
	hit("0", "t0", 1)
	g.metrics.relabel(g.tenants)
	if len(g.metrics.labelled) != 1 {
		t.Errorf("labelled after a quiet interval = %d tenants, want 1 (t0)", len(g.metrics.labelled))
	}
}
