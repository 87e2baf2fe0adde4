package tenantproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// countingUpstream answers 200 "<name>" and counts the requests it got
// (health checks apart).
type countingUpstream struct {
	name string
	srv  *httptest.Server
	n    atomic.Int64
	// health is the status of /healthz (200 unless set).
	health atomic.Int64
}

func newUpstream(t *testing.T, name string) *countingUpstream {
	t.Helper()
	u := &countingUpstream{name: name}
	u.health.Store(http.StatusOK)
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(int(u.health.Load()))
			return
		}
		u.n.Add(1)
		_, _ = io.WriteString(w, u.name)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *countingUpstream) addr() string { return strings.TrimPrefix(u.srv.URL, "http://") }

// startProxy provisions h as Caddy would and serves it on a test server
// (so that requests carry a real client connection and context).
func startProxy(t *testing.T, h *Handler) *httptest.Server {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.ServeHTTP(w, r, nil); err != nil {
			var he caddyhttp.HandlerError
			if errors.As(err, &he) {
				w.WriteHeader(he.StatusCode)
				_, _ = io.WriteString(w, "handler error: "+err.Error())
				return
			}
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(func() {
		srv.Close()
		if err := h.Cleanup(); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
	})
	return srv
}

func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp, string(b)
}

func TestBalancesAcrossTwoUpstreams(t *testing.T) {
	for _, policy := range []string{"round_robin", "least_conn"} {
		t.Run(policy, func(t *testing.T) {
			a, b := newUpstream(t, "a"), newUpstream(t, "b")
			p := startProxy(t, &Handler{Upstreams: []string{a.addr(), "http://" + b.addr()}, LBPolicy: policy})
			for range 20 {
				if resp, body := get(t, p.URL, nil); resp.StatusCode != 200 || (body != "a" && body != "b") {
					t.Fatalf("status %d body %q", resp.StatusCode, body)
				}
			}
			if a.n.Load() == 0 || b.n.Load() == 0 || a.n.Load()+b.n.Load() != 20 {
				t.Errorf("%s: upstream a got %d, b got %d of 20; want both some", policy, a.n.Load(), b.n.Load())
			}
		})
	}
}

func TestLeastConnAvoidsBusyUpstream(t *testing.T) {
	release := make(chan struct{})
	slowGot := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slowGot <- struct{}{}
		<-release
	}))
	defer slow.Close()
	defer close(release)
	fast := newUpstream(t, "fast")
	p := startProxy(t, &Handler{Upstreams: []string{strings.TrimPrefix(slow.URL, "http://"), fast.addr()}})
	// Occupy the slow upstream: whichever upstream the first request
	// went to, once the slow one holds a request it must get no more.
	go func() {
		for range 2 {
			resp, err := http.Get(p.URL)
			if err == nil {
				resp.Body.Close()
			}
		}
	}()
	<-slowGot
	before := fast.n.Load()
	for range 10 {
		if resp, body := get(t, p.URL, nil); resp.StatusCode != 200 || body != "fast" {
			t.Fatalf("with the other upstream busy: status %d body %q, want the idle upstream", resp.StatusCode, body)
		}
	}
	if fast.n.Load()-before != 10 {
		t.Errorf("idle upstream got %d of 10", fast.n.Load()-before)
	}
}

// deadAddr is an address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestSkipsUpstreamWhoseDialFails(t *testing.T) {
	good := newUpstream(t, "good")
	dead := deadAddr(t)
	h := &Handler{Upstreams: []string{dead, good.addr()}, LBPolicy: "round_robin"}
	p := startProxy(t, h)
	for i := range 10 {
		// GET takes the fast path, POST with a body the standard one.
		resp, body := get(t, p.URL, nil)
		if resp.StatusCode != 200 || body != "good" {
			t.Fatalf("GET %d: status %d body %q, want the live upstream", i, resp.StatusCode, body)
		}
	}
	if h.ups[0].available(false) {
		t.Errorf("the upstream whose dial failed is still available; want it skipped for fail_duration")
	}
	resp, err := http.Post(p.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("POST with the dead upstream marked down: status %d", resp.StatusCode)
	}
}

func TestStandardPathRetriesDialFailure(t *testing.T) {
	good := newUpstream(t, "good")
	// The dead upstream is first for round_robin's first pick (cursor 1
	// over two: index 1), so put it there.
	h := &Handler{Upstreams: []string{good.addr(), deadAddr(t)}, LBPolicy: "round_robin"}
	p := startProxy(t, h)
	req, _ := http.NewRequest(http.MethodDelete, p.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("DELETE with one dead upstream: status %d, want 200 from the other", resp.StatusCode)
	}
}

func TestSkipsUnhealthyUpstream(t *testing.T) {
	sick, well := newUpstream(t, "sick"), newUpstream(t, "well")
	sick.health.Store(http.StatusServiceUnavailable)
	h := &Handler{
		Upstreams: []string{sick.addr(), well.addr()}, LBPolicy: "round_robin",
		HealthURI: "/healthz", HealthInterval: caddy.Duration(20 * time.Millisecond),
	}
	p := startProxy(t, h)
	waitFor(t, "the failing health check to mark the upstream down", func() bool { return !h.ups[0].healthy.Load() })
	for range 10 {
		if resp, body := get(t, p.URL, nil); resp.StatusCode != 200 || body != "well" {
			t.Fatalf("status %d body %q, want the healthy upstream", resp.StatusCode, body)
		}
	}
	if n := sick.n.Load(); n != 0 {
		t.Errorf("the unhealthy upstream got %d requests", n)
	}
	sick.health.Store(http.StatusOK)
	waitFor(t, "the passing health check to bring the upstream back", func() bool { return h.ups[0].healthy.Load() })
	for range 4 {
		get(t, p.URL, nil)
	}
	if sick.n.Load() == 0 {
		t.Errorf("the upstream back up got no requests")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAllUpstreamsDownIs502(t *testing.T) {
	p := startProxy(t, &Handler{Upstreams: []string{deadAddr(t), deadAddr(t)}})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, p.URL, strings.NewReader(""))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("%s with every upstream down: status %d, want a 502 handler error", method, resp.StatusCode)
		}
	}
}

// echoHeaders answers with the request's headers, one "Name: value" a line.
func echoHeaders(t *testing.T, respond func(w http.ResponseWriter)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if respond != nil {
			respond(w)
		}
		fmt.Fprintf(w, "Host: %s\n", r.Host)
		_ = r.Header.Write(w)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestForwardedHeadersAreOurs(t *testing.T) {
	up := echoHeaders(t, nil)
	h := &Handler{Upstreams: []string{strings.TrimPrefix(up.URL, "http://")}}
	startProxy(t, h)
	for _, fast := range []bool{true, false} {
		method := http.MethodGet
		if !fast {
			method = http.MethodPost
		}
		r := httptest.NewRequest(method, "http://acme.localhost/x?y=1", nil)
		r.RemoteAddr = "192.0.2.7:4321"
		r.Header["X-Forwarded-For"] = []string{"6.6.6.6"}
		r.Header["X-Forwarded-Proto"] = []string{"https"}
		r.Header["X-Forwarded-Host"] = []string{"evil.test"}
		rec := httptest.NewRecorder()
		if err := h.ServeHTTP(rec, r, nil); err != nil {
			t.Fatal(err)
		}
		got := rec.Body.String()
		for _, want := range []string{"Host: acme.localhost\n", "X-Forwarded-For: 192.0.2.7\r\n", "X-Forwarded-Proto: http\r\n", "X-Forwarded-Host: acme.localhost\r\n", "Via: 1.1 Caddy\r\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("fast path %v: upstream saw\n%s\nwant %q", fast, got, want)
			}
		}
		if strings.Contains(got, "6.6.6.6") || strings.Contains(got, "evil.test") {
			t.Errorf("fast path %v: the client's X-Forwarded-* reached the upstream:\n%s", fast, got)
		}
		// From a trusted proxy (the server's trusted_proxies), its
		// X-Forwarded-* are kept and the peer appended.
		vars := map[string]any{caddyhttp.TrustedProxyVarKey: true}
		r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
		rec = httptest.NewRecorder()
		if err := h.ServeHTTP(rec, r, nil); err != nil {
			t.Fatal(err)
		}
		got = rec.Body.String()
		for _, want := range []string{"X-Forwarded-For: 6.6.6.6, 192.0.2.7\r\n", "X-Forwarded-Proto: https\r\n", "X-Forwarded-Host: evil.test\r\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("fast path %v, trusted client: upstream saw\n%s\nwant %q", fast, got, want)
			}
		}
	}
}

func TestHopByHopHeadersRemoved(t *testing.T) {
	up := echoHeaders(t, func(w http.ResponseWriter) {
		w.Header().Set("Connection", "X-Up-Hop")
		w.Header().Set("X-Up-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Up-End", "kept")
	})
	h := &Handler{Upstreams: []string{strings.TrimPrefix(up.URL, "http://")}}
	startProxy(t, h)
	r := httptest.NewRequest(http.MethodGet, "http://acme.localhost/", nil)
	r.Header.Set("Connection", "X-Client-Hop")
	r.Header.Set("X-Client-Hop", "1")
	r.Header.Set("Keep-Alive", "300")
	r.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
	r.Header.Set("Te", "trailers, deflate")
	r.Header.Set("X-End", "kept")
	rec := httptest.NewRecorder()
	if err := h.ServeHTTP(rec, r, nil); err != nil {
		t.Fatal(err)
	}
	got := rec.Body.String()
	for _, bad := range []string{"X-Client-Hop", "Keep-Alive", "Proxy-Authorization", "deflate"} {
		if strings.Contains(got, bad) {
			t.Errorf("upstream received hop-by-hop %q:\n%s", bad, got)
		}
	}
	for _, want := range []string{"X-End: kept", "Te: trailers"} {
		if !strings.Contains(got, want) {
			t.Errorf("upstream did not receive %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"X-Up-Hop", "Keep-Alive", "Connection"} {
		if _, ok := rec.Header()[bad]; ok {
			t.Errorf("client received hop-by-hop %q: %v", bad, rec.Header())
		}
	}
	if rec.Header().Get("X-Up-End") != "kept" || rec.Header().Get("Via") != "1.1 Caddy" {
		t.Errorf("client headers %v: want X-Up-End and Via", rec.Header())
	}
}

func TestStreamsResponse(t *testing.T) {
	more := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-more:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "data: two\n\n")
	}))
	defer up.Close()
	p := startProxy(t, &Handler{Upstreams: []string{strings.TrimPrefix(up.URL, "http://")}})
	resp, err := http.Get(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event before the upstream ends: %q, %v", line, err)
	}
	close(more)
	rest, _ := io.ReadAll(br)
	if string(rest) != "\ndata: two\n\n" {
		t.Errorf("rest of the stream %q", rest)
	}
}

func TestStreamsRequestBody(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sum := sha256.New()
		n, _ := io.Copy(sum, r.Body)
		fmt.Fprintf(w, "%d %x", n, sum.Sum(nil))
	}))
	defer up.Close()
	p := startProxy(t, &Handler{Upstreams: []string{strings.TrimPrefix(up.URL, "http://")}})
	body := bytes.Repeat([]byte("tenantgate "), 300_000) // 3.3 MB
	for _, chunked := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(body)
		if chunked {
			r = io.MultiReader(r) // unknown length: sent chunked
		}
		resp, err := http.Post(p.URL+"/upload", "application/octet-stream", r)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := fmt.Sprintf("%d %x", len(body), sha256.Sum256(body))
		if resp.StatusCode != 200 || string(got) != want {
			t.Errorf("chunked %v: status %d, upstream read %q, want %q", chunked, resp.StatusCode, got, want)
		}
	}
}

func TestUpgradeFallsBackAndWorks(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = brw.Flush()
		_, _ = io.Copy(c, brw)
	}))
	defer up.Close()
	p := startProxy(t, &Handler{Upstreams: []string{strings.TrimPrefix(up.URL, "http://")}})
	c, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: acme.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answer: %v %v", resp, err)
	}
	for _, msg := range []string{"ping\n", "pong\n"} {
		fmt.Fprint(c, msg)
		got, err := br.ReadString('\n')
		if err != nil || got != msg {
			t.Fatalf("echo over the upgraded connection: %q, %v; want %q", got, err, msg)
		}
	}
}

func TestClientDisconnectCancelsUpstream(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			got := make(chan struct{})
			cancelled := make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(got)
				<-r.Context().Done()
				close(cancelled)
			}))
			defer up.Close()
			p := startProxy(t, &Handler{Upstreams: []string{strings.TrimPrefix(up.URL, "http://")}})
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, method, p.URL, strings.NewReader(""))
			done := make(chan struct{})
			go func() {
				defer close(done)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}()
			<-got
			cancel()
			<-done
			select {
			case <-cancelled:
			case <-time.After(10 * time.Second):
				t.Fatal("the upstream request is still running 10 s after the client went away")
			}
		})
	}
}

func TestRetriesStaleConnection(t *testing.T) {
	// An upstream that closes every connection after one answer without
	// saying so: the kept connection is stale on the next request.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	p := startProxy(t, &Handler{Upstreams: []string{ln.Addr().String()}})
	for i := range 5 {
		if resp, body := get(t, p.URL, nil); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d over a stale kept connection: status %d body %q", i, resp.StatusCode, body)
		}
		time.Sleep(20 * time.Millisecond) // let the upstream's close arrive
	}
}

func TestTrailersPassThrough(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		_, _ = io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
	}))
	defer up.Close()
	p := startProxy(t, &Handler{Upstreams: []string{strings.TrimPrefix(up.URL, "http://")}})
	resp, err := http.Get(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("trailer X-Checksum = %q, want abc", resp.Trailer.Get("X-Checksum"))
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		a, b := newUpstream(t, "a"), newUpstream(t, "b")
		h := &Handler{Upstreams: []string{a.addr(), b.addr()}, HealthURI: "/healthz", HealthInterval: caddy.Duration(10 * time.Millisecond)}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		defer cancel()
		if err := h.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				method := http.MethodGet
				if i%2 == 1 {
					method = http.MethodPost
				}
				r := httptest.NewRequest(method, "http://acme.localhost/", strings.NewReader("x"))
				if err := h.ServeHTTP(httptest.NewRecorder(), r, nil); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if err := h.Cleanup(); err != nil {
			t.Fatal(err)
		}
		a.srv.Close()
		b.srv.Close()
	}()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Cleanup, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOptionsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		h     *Handler
		field string
	}{
		{&Handler{}, "upstreams"},
		{&Handler{Upstreams: []string{"https://a:1"}}, "upstreams"},
		{&Handler{Upstreams: []string{"a"}}, "upstreams"},
		{&Handler{Upstreams: []string{"a:1/x"}}, "upstreams"},
		{&Handler{Upstreams: []string{"a:1", "a:1"}}, "upstreams"},
		{&Handler{Upstreams: []string{"a:1"}, LBPolicy: "random"}, "lb_policy"},
		{&Handler{Upstreams: []string{"a:1"}, HealthURI: "healthz"}, "health_uri"},
		{&Handler{Upstreams: []string{"a:1"}, KeepAlive: -1}, "keepalive"},
		{&Handler{Upstreams: []string{"a:1"}, MaxIdlePerHost: -5}, "keepalive_idle_conns_per_host"},
	} {
		err := tc.h.setup()
		if err == nil || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%v: error %v, want one naming %s", tc.h.Upstreams, err, tc.field)
		}
	}
}

func TestRequestTrailersPassThrough(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "X-Checksum=%s", r.Trailer.Get("X-Checksum"))
	}))
	defer up.Close()
	p := startProxy(t, &Handler{Upstreams: []string{strings.TrimPrefix(up.URL, "http://")}})
	req, _ := http.NewRequest(http.MethodPost, p.URL, io.MultiReader(strings.NewReader("body")))
	req.Trailer = http.Header{"X-Checksum": {"abc"}}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "X-Checksum=abc" {
		t.Errorf("upstream saw %q, want the request's trailer", got)
	}
}

func TestUpstreamBackBeforeFailDurationIsTried(t *testing.T) {
	// One upstream whose dial failed: rather than 502 for fail_duration,
	// the next request tries it again, and gets the restarted server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	h := &Handler{Upstreams: []string{addr}, FailDuration: caddy.Duration(time.Hour)}
	p := startProxy(t, h)
	if resp, _ := get(t, p.URL, nil); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("upstream not listening: status %d, want 502", resp.StatusCode)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "back") })}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if resp, body := get(t, p.URL, nil); resp.StatusCode != 200 || body != "back" {
		t.Errorf("upstream back up within fail_duration: status %d %q, want its answer", resp.StatusCode, body)
	}
}
