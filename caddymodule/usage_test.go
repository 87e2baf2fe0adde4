package caddymodule

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/tenantgate/tenantgate/internal/meter"
	"github.com/tenantgate/tenantgate/tenantstore"
)

// statusHandler answers with its status and a body of n bytes.
type statusHandler struct {
	status int
	n      int
}

func (s statusHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) error {
	w.WriteHeader(s.status)
	_, err := w.Write(make([]byte, s.n))
	return err
}

// TestHandlerCountsUsage: the handler counts each request of a known
// tenant by status class — upstream answers and its own refusals alike,
// rate_limited apart — with the body bytes sent, and nothing for an
// unknown host.
func TestHandlerCountsUsage(t *testing.T) {
	h := newLimitedHandler(t, &fakeResolver{tenants: testTenants()}, &LimitsConfig{RatePerSecond: 1, Burst: 3}, nil)
	h.meter = new(meter.Edge)
	serve := func(host string, next statusHandler) {
		r, _ := newRequest(host, nil)
		_ = h.ServeHTTP(httptest.NewRecorder(), r, next)
	}
	serve("acme.example.com", statusHandler{200, 100})
	serve("shop.acme.test", statusHandler{302, 0})
	serve("acme.example.com", statusHandler{500, 7})
	serve("acme.example.com", statusHandler{200, 100}) // over the burst of 3: 429
	serve("globex.example.com", statusHandler{200, 1}) // suspended: 403
	serve("nobody.example.com", statusHandler{200, 1}) // unknown: not counted

	minute := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	rows := h.meter.Drain(minute)
	got := map[string]tenantstore.UsageRow{}
	for _, r := range rows {
		got[r.TenantID] = r
	}
	acme := got["11111111-1111-1111-1111-111111111111"]
	want := tenantstore.UsageCounts{Requests: 4, Status2xx: 1, Status3xx: 1, Status4xx: 1, Status5xx: 1, RateLimited: 1, BytesOut: 107}
	if acme.Requests != want.Requests || acme.Status2xx != want.Status2xx || acme.Status3xx != want.Status3xx ||
		acme.Status4xx != want.Status4xx || acme.Status5xx != want.Status5xx || acme.RateLimited != want.RateLimited ||
		acme.BytesOut != want.BytesOut || !acme.Minute.Equal(minute) {
		t.Errorf("acme's row = %+v, want counts %+v at %v", acme, want, minute)
	}
	var hist int64
	for _, v := range acme.Latency {
		hist += v
	}
	if hist != 4 {
		t.Errorf("acme's latency histogram holds %d requests, want 4", hist)
	}
	if g := got["22222222-2222-2222-2222-222222222222"]; g.Requests != 1 || g.Status4xx != 1 {
		t.Errorf("globex's row = %+v, want one 4xx (suspended)", g)
	}
	if len(rows) != 2 {
		t.Errorf("Drain = %d rows, want 2 (acme, globex)", len(rows))
	}
	if again := h.meter.Drain(minute); len(again) != 0 {
		t.Errorf("second Drain = %+v, want nothing (counters reset)", again)
	}
}

// BenchmarkHandlerWarmMetered is BenchmarkHandlerWarm with the usage
// figures counted: the difference is what counting costs per request.
func BenchmarkHandlerWarmMetered(b *testing.B) { benchmarkHandlerWith(b, nil, new(meter.Edge)) }

// BenchmarkEdgeRecord measures meter.Edge.Record alone, from all CPUs on
// one tenant (the contended case).
func BenchmarkEdgeRecord(b *testing.B) {
	e := new(meter.Edge)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e.Record("11111111-1111-1111-1111-111111111111", 200, 1234, 3*time.Millisecond, false)
		}
	})
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkUsageCounting isolates what the tenant handler adds per request
// to count usage — the clock read twice, the status-and-bytes writer, the
// final status and the atomic counters — against the same answer written
// without it ("bare"), behind Caddy's access-log recorder and without it.
// The budget is 200 ns (issue 17).
func BenchmarkUsageCounting(b *testing.B) {
	body := make([]byte, 512)
	w := &discardWriter{h: http.Header{}}
	answer := func(w http.ResponseWriter) error {
		w.WriteHeader(http.StatusOK)
		_, err := w.Write(body)
		return err
	}
	bare := func(b *testing.B, w http.ResponseWriter) {
		b.ReportAllocs()
		for b.Loop() {
			_ = answer(w)
		}
	}
	counted := func(b *testing.B, w http.ResponseWriter) {
		m := new(meter.Edge)
		b.ReportAllocs()
		for b.Loop() {
			start := nanotime()
			status, bytes, err := counted(w, answer)
			m.Record("11111111-1111-1111-1111-111111111111", status, bytes, time.Duration(nanotime()-start), err != nil && errors.Is(err, errRateLimited))
		}
	}
	// As deployed: access logs on, so Caddy's recorder is there already.
	rec := caddyhttp.NewResponseRecorder(w, nil, nil)
	b.Run("recorder/bare", func(b *testing.B) { bare(b, rec) })
	b.Run("recorder/counted", func(b *testing.B) { counted(b, rec) })
	// Without access logs: our own writer watches the answer.
	b.Run("plain/bare", func(b *testing.B) { bare(b, w) })
	b.Run("plain/counted", func(b *testing.B) { counted(b, w) })
}
