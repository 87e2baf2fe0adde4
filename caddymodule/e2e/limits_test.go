package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/internal/testenv"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// countingUpstream answers 200 after delay and counts, per Host, the
// requests it is serving, the most it served at once and all it got.
type countingUpstream struct {
	srv   *httptest.Server
	delay time.Duration

	mu                sync.Mutex
	cur, peak, totals map[string]int
}

func newCountingUpstream(t *testing.T, delay time.Duration) *countingUpstream {
	t.Helper()
	u := &countingUpstream{delay: delay, cur: map[string]int{}, peak: map[string]int{}, totals: map[string]int{}}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		u.mu.Lock()
		u.cur[r.Host]++
		u.totals[r.Host]++
		u.peak[r.Host] = max(u.peak[r.Host], u.cur[r.Host])
		u.mu.Unlock()
		time.Sleep(u.delay)
		u.mu.Lock()
		u.cur[r.Host]--
		u.mu.Unlock()
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *countingUpstream) addr() string { return strings.TrimPrefix(u.srv.URL, "http://") }

// counts returns what the upstream saw of host: in flight now, peak, total.
func (u *countingUpstream) counts(host string) (cur, peak, total int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.cur[host], u.peak[host], u.totals[host]
}

// setLimits sets a tenant's own limits through the store, as tenantctl
// does (the store's notifier tells the edges).
func (w *world) setLimits(t *testing.T, sub string, l tenantstore.TenantLimits) {
	t.Helper()
	w.updateTenant(t, sub, "the limits of "+sub, func(tn *tenantstore.Tenant) { tn.Limits = l })
}

// outcome is one answer of the edge, as a client sees it.
type outcome struct {
	status     int
	code       string // error.code of a JSON refusal
	retryAfter string
}

// burst sends n requests for host to the edge at once and returns the
// answers.
func (e *edge) burst(t *testing.T, host string, n int) []outcome {
	t.Helper()
	out := make([]outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i] = e.outcome(t, host) })
	}
	wg.Wait()
	return out
}

// outcome sends one GET for host, asking for JSON.
func (e *edge) outcome(t *testing.T, host string) outcome {
	resp, body := e.get(t, host, "/", http.Header{"Accept": {"application/json"}})
	o := outcome{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	var v struct {
		Error struct{ Code string } `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil {
		o.code = v.Error.Code
	}
	return o
}

// tally counts outcomes by status, checking that every refusal is the
// refusal want (with a whole Retry-After of at least a second).
func tally(t *testing.T, what string, outs []outcome, wantStatus int, wantCode string) (ok, refused int) {
	t.Helper()
	for _, o := range outs {
		switch {
		case o.status == http.StatusOK:
			ok++
		case o.status == wantStatus && o.code == wantCode:
			refused++
			if n, err := strconv.Atoi(o.retryAfter); err != nil || n < 1 {
				t.Errorf("%s: %d %s with Retry-After %q, want whole seconds ≥ 1", what, o.status, o.code, o.retryAfter)
			}
		default:
			t.Errorf("%s: answer %d %q, want 200 or %d %s", what, o.status, o.code, wantStatus, wantCode)
		}
	}
	return ok, refused
}

// metric returns the value of the edge's metric line that starts with
// series (name and labels as Prometheus prints them), or -1.
func (e *edge) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + e.admin + "/metrics")
	if err != nil {
		t.Fatalf("GET caddy's /metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// TestEdgeTenantRateLimit: a tenant limited to 5 requests per second with
// a burst of 5 gets 5 of a burst of 20 through (plus what its rate refilled
// meanwhile) and 429 rate_limited with Retry-After for the rest, which
// never reach the upstream; another tenant is unaffected; the refusals are
// in the access log and in Prometheus.
func TestEdgeTenantRateLimit(t *testing.T) {
	up := newCountingUpstream(t, 0)
	w := newWorldEnv(t, "", up.addr(), nil)
	rate, burst := 5.0, 5
	w.setLimits(t, "acme", tenantstore.TenantLimits{RatePerSecond: &rate, Burst: &burst})

	start := time.Now()
	outs := w.edge.burst(t, "acme.localhost", 20)
	elapsed := time.Since(start)
	ok, refused := tally(t, "acme over its rate", outs, http.StatusTooManyRequests, "rate_limited")
	// The bucket refills at 5/s while the burst is sent.
	if most := burst + int(elapsed.Seconds()*rate); ok < burst || ok > most {
		t.Errorf("acme: %d of 20 passed in %v, want %d to %d", ok, elapsed, burst, most)
	}
	if refused == 0 {
		t.Errorf("acme: no request refused")
	}
	if _, _, total := up.counts("acme.localhost"); total != ok {
		t.Errorf("upstream got %d acme requests, want only the %d admitted", total, ok)
	}
	// An HTML client gets the refusal page.
	resp, body := w.edge.get(t, "acme.localhost", "/", http.Header{"Accept": {"text/html"}})
	if resp.StatusCode != http.StatusTooManyRequests || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "rate_limited") {
		t.Errorf("HTML refusal = %d %s %q, want a 429 page naming rate_limited", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	_, others := tally(t, "globex meanwhile", w.edge.burst(t, "globex.localhost", 20), 0, "")
	if others != 0 {
		t.Errorf("globex: %d refused, want none", others)
	}

	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(w.edge.logs.String(), `"refused":"rate_limited"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no access log line with \"refused\":\"rate_limited\"")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := w.edge.metric(t, `tenantgate_edge_requests_total{outcome="rate_limited",tenant="_other"}`); got < float64(refused) {
		t.Errorf("rate_limited requests in /metrics = %v, want at least %d", got, refused)
	}
	if got := w.edge.metric(t, `tenantgate_edge_in_flight`); got != 0 {
		t.Errorf("tenantgate_edge_in_flight at rest = %v, want 0", got)
	}
}

// TestEdgeTenantInFlightCap: with a slow upstream, a tenant capped at 3
// requests in flight never has more than 3 at the upstream; the rest get
// 429; another tenant's requests meanwhile all pass.
func TestEdgeTenantInFlightCap(t *testing.T) {
	up := newCountingUpstream(t, 300*time.Millisecond)
	w := newWorldEnv(t, "", up.addr(), nil)
	three := 3
	w.setLimits(t, "acme", tenantstore.TenantLimits{MaxInFlight: &three})

	var acme, globex []outcome
	var wg sync.WaitGroup
	wg.Go(func() { acme = w.edge.burst(t, "acme.localhost", 12) })
	wg.Go(func() { globex = w.edge.burst(t, "globex.localhost", 6) })
	wg.Wait()
	ok, refused := tally(t, "acme over its cap", acme, http.StatusTooManyRequests, "rate_limited")
	if _, peak, total := up.counts("acme.localhost"); peak > 3 || total != ok {
		t.Errorf("upstream saw acme at most %d at once (want ≤ 3), %d in all (want the %d admitted)", peak, total, ok)
	}
	if refused == 0 {
		t.Errorf("acme: 12 requests at once with a cap of 3 and none refused")
	}
	if _, n := tally(t, "globex meanwhile", globex, 0, ""); n != 0 {
		t.Errorf("globex: %d refused, want none", n)
	}
}

// TestEdgeShedsFairly: the whole edge serves 4 requests at once with a
// queue of 4. A noisy tenant's 20 requests at once fill both; a quiet
// tenant's 2 requests, sent after, still get through (they take queue
// places from the noisy tenant and are served in turn), while the noisy
// tenant's overflow gets 503 overloaded without reaching the upstream.
func TestEdgeShedsFairly(t *testing.T) {
	up := newCountingUpstream(t, 500*time.Millisecond)
	w := newWorldEnv(t, "", up.addr(), map[string]string{
		"EDGE_MAX_IN_FLIGHT": "4", "EDGE_QUEUE_LENGTH": "4", "EDGE_QUEUE_TIMEOUT": "5s",
	})
	// Warm the edge's cache so both tenants resolve at once.
	w.waitStatus(t, "acme.localhost", http.StatusOK, 5*time.Second)
	w.waitStatus(t, "globex.localhost", http.StatusOK, 5*time.Second)
	_, _, before := up.counts("acme.localhost")

	var noisy, quiet []outcome
	var wg sync.WaitGroup
	wg.Go(func() { noisy = w.edge.burst(t, "acme.localhost", 20) })
	deadline := time.Now().Add(5 * time.Second)
	for cur, _, _ := up.counts("acme.localhost"); cur < 4; cur, _, _ = up.counts("acme.localhost") {
		if time.Now().After(deadline) {
			t.Fatalf("the noisy tenant never had 4 requests at the upstream")
		}
		time.Sleep(5 * time.Millisecond)
	}
	quiet = w.edge.burst(t, "globex.localhost", 2)
	wg.Wait()

	if ok, n := tally(t, "quiet tenant", quiet, http.StatusServiceUnavailable, "overloaded"); ok != 2 {
		t.Errorf("quiet tenant: %d of 2 admitted (%d shed), want both", ok, n)
	}
	ok, shed := tally(t, "noisy tenant", noisy, http.StatusServiceUnavailable, "overloaded")
	if shed == 0 {
		t.Errorf("noisy tenant: 20 requests against 4 slots and 4 queue places, none shed")
	}
	if _, peak, total := up.counts("acme.localhost"); total-before != ok || peak > 4 {
		t.Errorf("upstream got %d noisy requests (peak %d at once), want only the %d admitted, at most 4 at once", total-before, peak, ok)
	}
}

// TestEdgeLimitChangeReachesEveryEdge: a limit set through the admin API
// (the real appserver behind one edge) applies on two edges within a
// second, and so does its reset; another tenant is unaffected.
func TestEdgeLimitChangeReachesEveryEdge(t *testing.T) {
	testenv.Integration(t)
	bin := appserverBinary(t)
	env, adminToken := newStackEnv(t)
	ctx := context.Background()
	store, err := tenantstore.Open(ctx, env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, sub := range []string{"acme", "globex"} {
		if err := store.Insert(ctx, &tenantstore.Tenant{Name: sub, Subdomain: sub, AdminEmail: "boss@" + sub + ".test",
			Status: tenantstore.StatusActive, MaxUsers: 5, DatabaseName: "x_" + sub}); err != nil {
			t.Fatal(err)
		}
	}
	_, adminAddr := startAppserver(t, bin, env)
	env["ADMIN_UPSTREAMS"] = adminAddr
	echo := strings.TrimPrefix(newEcho(t).URL, "http://")
	edges := []*edge{startEdge(t, echo, env), startEdge(t, echo, env)}
	for _, e := range edges { // both cache acme as unlimited
		for range 3 {
			if o := e.outcome(t, "acme.localhost"); o.status != http.StatusOK {
				t.Fatalf("acme before the change = %d, want 200", o.status)
			}
		}
	}

	patch := func(body string) time.Time {
		t.Helper()
		resp, answer := edges[0].do(t, http.MethodPatch, "admin.localhost", "/api/tenants/acme", body,
			http.Header{"Authorization": {"Bearer " + adminToken}, "Content-Type": {"application/json"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PATCH /api/tenants/acme %s = %d %s", body, resp.StatusCode, answer)
		}
		return time.Now()
	}
	// waitOn polls e until limited(answers of three quick requests) holds,
	// failing a second after since.
	waitOn := func(what string, e *edge, since time.Time, limited bool) {
		t.Helper()
		for {
			refused := 0
			for range 3 {
				if o := e.outcome(t, "acme.localhost"); o.status == http.StatusTooManyRequests {
					refused++
				}
			}
			if (refused > 0) == limited {
				return
			}
			if time.Since(since) > time.Second {
				t.Fatalf("%s: not applied on edge :%d within 1 s", what, e.httpPort)
			}
		}
	}
	since := patch(`{"limits": {"rate_per_second": 1, "burst": 1}}`)
	for _, e := range edges {
		waitOn("rate 1/s", e, since, true)
	}
	for _, e := range edges {
		if _, n := tally(t, "globex", e.burst(t, "globex.localhost", 5), 0, ""); n != 0 {
			t.Errorf("globex on edge :%d: %d refused, want none", e.httpPort, n)
		}
	}
	since = patch(`{"limits": null}`)
	for _, e := range edges {
		waitOn("reset to the default", e, since, false)
	}
}
