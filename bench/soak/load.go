package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	mathrand "math/rand"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// zipfS is the Zipf exponent of tenant popularity: the first tenant gets
// about a tenth of the requests, the last still a few over five minutes.
const zipfS = 1.1

// sample is one reading of an appserver's /metrics.
type sample struct {
	at                    time.Duration // since traffic started
	rss, goroutines       float64
	inUse, busy, reclaims float64
}

// report is what drive measured.
type report struct {
	duration  time.Duration
	sent      int64
	statuses  map[int]int64
	errs      map[string]int64
	latencies []time.Duration

	tenantBackendsMax, soakBackendsMax, serverBackendsMax int
	backendSamples                                        int
	maxConnections                                        int
	apps                                                  map[string][]sample
}

// drive sends o.rate requests per second on a fixed schedule for
// o.duration, each to a tenant drawn from a Zipf distribution, and samples
// PostgreSQL every second and the appservers every 5 s.
func drive(ctx context.Context, w *world, st *stack, o options) (*report, error) {
	w.mu.Lock()
	tenants := slices.Clone(w.tenants)
	w.mu.Unlock()
	sort.Slice(tenants, func(i, j int) bool { return tenants[i].sub < tenants[j].sub })
	if len(tenants) == 0 {
		return nil, fmt.Errorf("no tenants to drive")
	}
	addr := "127.0.0.1:" + strconv.Itoa(st.httpPort)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return dialer.DialContext(ctx, "tcp", addr) },
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	r := &report{statuses: map[int]int64{}, errs: map[string]int64{}, apps: map[string][]sample{}}
	var mu sync.Mutex // guards r's maps and latencies

	conn, err := pgx.Connect(ctx, o.postgresURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.QueryRow(ctx, "SELECT current_setting('max_connections')::int").Scan(&r.maxConnections); err != nil {
		return nil, err
	}

	sctx, stopSamplers := context.WithCancel(ctx)
	var samplers sync.WaitGroup
	start := time.Now()
	samplers.Go(func() { sampleBackends(sctx, conn, w, r, &mu) })
	samplers.Go(func() { sampleApps(sctx, st, r, &mu, start) })

	zipf := mathrand.NewZipf(mathrand.New(mathrand.NewSource(1)), zipfS, 1, uint64(len(tenants)-1))
	interval := time.Second / time.Duration(o.rate)
	end := start.Add(o.duration)
	var inflight sync.WaitGroup
	var sent atomic.Int64
	nextProgress := start.Add(30 * time.Second)
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.After(end) || ctx.Err() != nil {
			break
		}
		if d := time.Until(at); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		if time.Now().After(nextProgress) {
			nextProgress = nextProgress.Add(30 * time.Second)
			mu.Lock()
			fmt.Printf("  %s: sent %d, statuses %v, transport errors %d, tenant backends max so far %d\n",
				time.Since(start).Round(time.Second), sent.Load(), r.statuses, sumCounts(r.errs), r.tenantBackendsMax)
			mu.Unlock()
		}
		t := tenants[zipf.Uint64()]
		sent.Add(1)
		inflight.Go(func() {
			status, err := send(ctx, client, t, i)
			took := time.Since(at) // from the scheduled time: no coordinated omission
			mu.Lock()
			defer mu.Unlock()
			r.latencies = append(r.latencies, took)
			if err != nil {
				r.errs[errClass(err)]++
				return
			}
			r.statuses[status]++
		})
	}
	inflight.Wait()
	r.duration = time.Since(start)
	stopSamplers()
	samplers.Wait()
	r.sent = sent.Load()
	return r, ctx.Err()
}

// send makes request i to tenant t: mostly reads of its customers and
// products, one in twenty a new customer.
func send(ctx context.Context, client *http.Client, t soakTenant, i int) (int, error) {
	method, path, body := http.MethodGet, "/api/customers", ""
	switch {
	case i%20 == 0:
		method, body = http.MethodPost, fmt.Sprintf(`{"name": "Soak customer %d"}`, i)
	case i%2 == 1:
		path = "/api/products"
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+t.sub+".localhost"+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+t.session)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}

// errClass shortens a transport error to its kind, for counting.
func errClass(err error) string {
	s := err.Error()
	for _, k := range []string{"timeout", "connection refused", "connection reset", "EOF", "context canceled"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	return s
}

func sumCounts(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// sampleBackends counts, every second, the server's connections to the
// soak's tenant databases, to all its databases, and to the whole server.
func sampleBackends(ctx context.Context, conn *pgx.Conn, w *world, r *report, mu *sync.Mutex) {
	like := strings.ReplaceAll(w.prefix, "_", `\_`) + "%"
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		var tenant, soak, all int
		err := conn.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE datname LIKE $1 AND datname <> $2),
			count(*) FILTER (WHERE datname LIKE $1),
			count(*) FILTER (WHERE backend_type = 'client backend')
			FROM pg_stat_activity`, like, w.controlDB).Scan(&tenant, &soak, &all)
		if err == nil {
			mu.Lock()
			r.backendSamples++
			r.tenantBackendsMax = max(r.tenantBackendsMax, tenant)
			r.soakBackendsMax = max(r.soakBackendsMax, soak)
			r.serverBackendsMax = max(r.serverBackendsMax, all)
			mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sampleApps reads each appserver's /metrics every 5 s.
func sampleApps(ctx context.Context, st *stack, r *report, mu *sync.Mutex, start time.Time) {
	client := &http.Client{Timeout: 3 * time.Second}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		for _, a := range st.apps {
			if s, err := scrape(ctx, client, a.metrics); err == nil {
				s.at = time.Since(start)
				mu.Lock()
				r.apps[a.name] = append(r.apps[a.name], s)
				mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func scrape(ctx context.Context, client *http.Client, url string) (sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return sample{}, err
	}
	res, err := client.Do(req)
	if err != nil {
		return sample{}, err
	}
	defer res.Body.Close()
	var s sample
	fields := map[string]*float64{
		"process_resident_memory_bytes":           &s.rss,
		"go_goroutines":                           &s.goroutines,
		"tenantgate_tenant_conns_in_use":          &s.inUse,
		"tenantgate_tenant_conns_busy_total":      &s.busy,
		"tenantgate_tenant_conns_reclaimed_total": &s.reclaims,
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if p := fields[name]; ok && p != nil {
			*p, _ = strconv.ParseFloat(strings.TrimSpace(value), 64)
		}
	}
	return s, sc.Err()
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func (r *report) print(o options) {
	slices.Sort(r.latencies)
	var ok, failed int64
	for code, n := range r.statuses {
		if code >= 200 && code < 300 {
			ok += n
		} else {
			failed += n
		}
	}
	transport := sumCounts(r.errs)
	fmt.Printf("\ntraffic: %d requests in %s (%.1f/s offered, open loop, Zipf s=%.1f over %d tenants)\n",
		r.sent, r.duration.Round(time.Second), float64(r.sent)/r.duration.Seconds(), zipfS, o.tenants)
	codes := make([]int, 0, len(r.statuses))
	for c := range r.statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		fmt.Printf("  status %d: %d\n", c, r.statuses[c])
	}
	for k, n := range r.errs {
		fmt.Printf("  transport error %q: %d\n", k, n)
	}
	fmt.Printf("  errors: %d (non-2xx %d, transport %d)\n", failed+transport, failed, transport)
	fmt.Printf("latency from scheduled send: p50 %s, p90 %s, p99 %s, max %s\n",
		percentile(r.latencies, .50).Round(100*time.Microsecond), percentile(r.latencies, .90).Round(100*time.Microsecond),
		percentile(r.latencies, .99).Round(100*time.Microsecond), percentile(r.latencies, 1).Round(time.Millisecond))
	limit := 2 * o.connsMax
	fmt.Printf("PostgreSQL backends (%d samples, one a second):\n", r.backendSamples)
	fmt.Printf("  tenant databases: max %d; limit APPSERVERS × TENANT_CONNS_MAX = 2 × %d = %d  %s\n",
		r.tenantBackendsMax, o.connsMax, limit, verdict(r.tenantBackendsMax <= limit))
	fmt.Printf("  tenant databases + control plane: max %d (the rest is the appservers' and caddy's control-plane pools)\n", r.soakBackendsMax)
	fmt.Printf("  whole server (other users of this PostgreSQL included): max %d of max_connections %d\n", r.serverBackendsMax, r.maxConnections)
	names := make([]string, 0, len(r.apps))
	for n := range r.apps {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := r.apps[n]
		if len(s) == 0 {
			continue
		}
		// The first sample (at 0 s) is before any request: left out.
		first, last := window(s, time.Second, time.Minute), window(s, r.duration-time.Minute, r.duration+time.Minute)
		fmt.Printf("%s: RSS first minute %s, last minute %s; goroutines first minute %s, last minute %s\n", n,
			span(first, func(x sample) float64 { return x.rss / (1 << 20) }, "MiB"),
			span(last, func(x sample) float64 { return x.rss / (1 << 20) }, "MiB"),
			span(first, func(x sample) float64 { return x.goroutines }, ""),
			span(last, func(x sample) float64 { return x.goroutines }, ""))
		end := s[len(s)-1]
		fmt.Printf("  budget at the end: %0.f in use; busy (503) %0.f, idle reclaims %0.f over the run\n", end.inUse, end.busy, end.reclaims)
	}
}

func verdict(ok bool) string {
	if ok {
		return "(within)"
	}
	return "(EXCEEDED)"
}

func window(s []sample, from, to time.Duration) []sample {
	var out []sample
	for _, x := range s {
		if x.at >= from && x.at < to {
			out = append(out, x)
		}
	}
	return out
}

// span prints the min–max of f over s.
func span(s []sample, f func(sample) float64, unit string) string {
	if len(s) == 0 {
		return "n/a"
	}
	lo, hi := f(s[0]), f(s[0])
	for _, x := range s[1:] {
		lo, hi = min(lo, f(x)), max(hi, f(x))
	}
	return fmt.Sprintf("%.0f–%.0f%s", lo, hi, unit)
}
