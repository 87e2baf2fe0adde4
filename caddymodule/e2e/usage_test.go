package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/tenantstore"
)

// usageBody is the body size of every answer of the status upstream.
const usageBody = 100

// newStatusUpstream answers /status/<code> with that status, anything else
// with 200, each with a body of usageBody bytes (where the status allows one).
func newStatusUpstream(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if v, ok := strings.CutPrefix(r.URL.Path, "/status/"); ok {
			code, _ = strconv.Atoi(v)
		}
		w.Header().Set("Content-Length", strconv.Itoa(usageBody))
		w.WriteHeader(code)
		_, _ = w.Write(make([]byte, usageBody))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// usageTotals sums a tenant's stored per-minute usage of the last hour;
// timed is the number of requests in its latency histogram.
func usageTotals(t *testing.T, store *tenantstore.Store, sub string) (sum tenantstore.UsageCounts, timed int64) {
	t.Helper()
	ctx := context.Background()
	tn, err := store.GetBySubdomain(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	pts, err := store.UsageSeries(ctx, tn.ID, now.Add(-time.Hour), now.Add(time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pts {
		sum.Add(&p.UsageCounts)
	}
	for _, v := range sum.Latency {
		timed += v
	}
	return sum, timed
}

// TestEdgeUsageAddsUpAcrossEdges: two real edges count a known mix of
// answers (upstream 2xx/3xx/4xx/5xx, 429 rate_limited refusals, 403 of a
// suspended tenant); after a graceful stop of both — which flushes what
// each holds — the control plane's per-minute rows add up exactly, with
// every request in the latency histogram.
func TestEdgeUsageAddsUpAcrossEdges(t *testing.T) {
	w := newWorldWith(t, "", newStatusUpstream(t))
	// globex: 5 requests of burst, then (at one per 100 s) refused.
	rate, burst := 0.01, 5
	w.setLimits(t, "globex", tenantstore.TenantLimits{RatePerSecond: &rate, Burst: &burst})
	edges := []*edge{w.edge, startEdge(t, w.upstream, w.env)}

	type mix struct{ ok, redirect, notFound, failed, globex, umbrella int }
	sent := []mix{{ok: 10, redirect: 1, notFound: 3, failed: 2, globex: 8, umbrella: 2}, {ok: 7, redirect: 2, notFound: 1, failed: 4, globex: 6, umbrella: 1}}
	for i, e := range edges {
		m := sent[i]
		send := func(n int, host, path string, want int) {
			for range n {
				if resp, _ := e.get(t, host, path, nil); resp.StatusCode != want && want != 0 {
					t.Fatalf("edge %d: GET %s%s = %d, want %d", i, host, path, resp.StatusCode, want)
				}
			}
		}
		send(m.ok, "acme.localhost", "/", 200)
		send(m.redirect, "shop.acme.test", "/status/304", 304) // acme on its custom domain
		send(m.notFound, "acme.localhost", "/status/404", 404)
		send(m.failed, "acme.localhost", "/status/502", 502)
		send(m.globex, "globex.localhost", "/", 0)
		send(m.umbrella, "umbrella.localhost", "/", 403)
		send(3, "nobody.localhost", "/", 404) // unknown: nobody's usage
	}
	before, _ := usageTotals(t, w.store, "acme")
	for _, e := range edges {
		e.stop()
	}

	var want mix
	for _, m := range sent {
		want.ok += m.ok
		want.redirect += m.redirect
		want.notFound += m.notFound
		want.failed += m.failed
		want.globex += m.globex
		want.umbrella += m.umbrella
	}
	acme, acmeTimed := usageTotals(t, w.store, "acme")
	acmeN := int64(want.ok + want.redirect + want.notFound + want.failed)
	check := func(name string, got, want int64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	check("acme requests", acme.Requests, acmeN)
	check("acme 2xx", acme.Status2xx, int64(want.ok))
	check("acme 3xx", acme.Status3xx, int64(want.redirect))
	check("acme 4xx", acme.Status4xx, int64(want.notFound))
	check("acme 5xx", acme.Status5xx, int64(want.failed))
	check("acme rate_limited", acme.RateLimited, 0)
	// 304 has no body on the wire: net/http drops it.
	check("acme bytes_out", acme.BytesOut, usageBody*int64(want.ok+want.notFound+want.failed))
	check("acme requests in the latency histogram", acmeTimed, acmeN)

	globex, _ := usageTotals(t, w.store, "globex")
	check("globex requests", globex.Requests, int64(want.globex))
	check("globex 2xx", globex.Status2xx, 10) // the burst of 5 on each edge
	check("globex 4xx", globex.Status4xx, int64(want.globex-10))
	check("globex rate_limited", globex.RateLimited, int64(want.globex-10))
	check("globex bytes_out (refusals are the edge's own pages, not counted)", globex.BytesOut, 10*usageBody)

	umbrella, _ := usageTotals(t, w.store, "umbrella")
	check("umbrella requests", umbrella.Requests, int64(want.umbrella))
	check("umbrella 4xx (suspended)", umbrella.Status4xx, int64(want.umbrella))
	if before.Requests > acme.Requests {
		t.Errorf("requests stored before the stop (%d) exceed those after (%d)", before.Requests, acme.Requests)
	}
	t.Logf("acme: %d of %d requests were stored before the graceful stop, the rest by its flush", before.Requests, acme.Requests)
}
