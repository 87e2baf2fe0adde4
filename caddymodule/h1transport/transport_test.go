package h1transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// newTransport provisions a Transport as the Caddyfile `transport
// tenant_h1` with no options would.
func newTransport(t *testing.T) *Transport {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	tr := new(Transport)
	if err := tr.Provision(ctx); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if !tr.fast {
		t.Fatal("the default configuration should take the fast path")
	}
	t.Cleanup(func() { _ = tr.Cleanup() })
	return tr
}

// countingServer is a real HTTP server that counts the connections it accepts.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// get sends method to base+path through tr as reverse_proxy would (the
// upstream in the URL, the client's Host kept) and returns status and body.
func get(t *testing.T, tr http.RoundTripper, method, base, path string) (int, string) {
	t.Helper()
	u, err := url.Parse(base + path)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "acme.localhost"
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

func TestRequestsShareOneConnection(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s", r.Method, r.Host, r.URL.RequestURI())
	})
	tr := newTransport(t)
	for i := range 50 {
		path := fmt.Sprintf("/items/%d?q=x", i)
		code, body := get(t, tr, http.MethodGet, srv.URL, path)
		if want := "GET acme.localhost " + path; code != 200 || body != want {
			t.Fatalf("request %d: %d %q, want 200 %q", i, code, body, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("50 sequential requests used %d connections, want 1", n)
	}
}

func TestHeadAndNoContentLeaveTheConnectionUsable(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/empty" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Length", "5")
		_, _ = io.WriteString(w, "hello")
	})
	tr := newTransport(t)
	for _, step := range []struct {
		method, path string
		code         int
		body         string
	}{
		{http.MethodHead, "/", 200, ""},
		{http.MethodGet, "/empty", 204, ""},
		{http.MethodGet, "/", 200, "hello"},
		{http.MethodHead, "/", 200, ""},
		{http.MethodGet, "/", 200, "hello"},
	} {
		code, body := get(t, tr, step.method, srv.URL, step.path)
		if code != step.code || body != step.body {
			t.Fatalf("%s %s: %d %q, want %d %q", step.method, step.path, code, body, step.code, step.body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("used %d connections, want 1", n)
	}
}

// rawUpstream accepts connections and runs serve on each; for answers
// net/http would not send (closing after one answer without saying so,
// interim 1xx answers).
func rawUpstream(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
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
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &conns
}

// readRequest reads one request and reports whether there was one.
func readRequest(br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, req.Body)
	return true
}

func TestStaleIdleConnectionIsRetriedOnANewOne(t *testing.T) {
	// Answers one request per connection, then closes it without a
	// "Connection: close": what an upstream's idle timeout looks like.
	base, conns := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		if readRequest(br) {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	tr := newTransport(t)
	for i := range 3 {
		if code, body := get(t, tr, http.MethodGet, base, "/"); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q, want 200 \"ok\"", i, code, body)
		}
		time.Sleep(20 * time.Millisecond) // let the close reach us
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("used %d connections, want 3 (one per request)", n)
	}
}

func TestInterimAnswersAreSkipped(t *testing.T) {
	base, _ := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for readRequest(br) {
			_, _ = io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"+
				"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal")
		}
	})
	tr := newTransport(t)
	for range 2 {
		if code, body := get(t, tr, http.MethodGet, base, "/"); code != 200 || body != "real" {
			t.Fatalf("got %d %q, want 200 \"real\"", code, body)
		}
	}
}

func TestConnectionCloseIsHonoured(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "bye")
	})
	tr := newTransport(t)
	for range 3 {
		if code, body := get(t, tr, http.MethodGet, srv.URL, "/"); code != 200 || body != "bye" {
			t.Fatalf("got %d %q", code, body)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("used %d connections, want 3", n)
	}
}

func TestBodyClosedEarlyDoesNotLeakIntoTheNextAnswer(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			_, _ = io.WriteString(w, big)
			return
		}
		_, _ = io.WriteString(w, "small")
	})
	tr := newTransport(t)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/big", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // the rest of the megabyte is still on that connection
	if code, body := get(t, tr, http.MethodGet, srv.URL, "/small"); code != 200 || body != "small" {
		t.Fatalf("after an early close: %d %q, want 200 \"small\"", code, body)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("used %d connections, want 2 (the half-read one is not reused)", n)
	}
}

func TestCancelledRequestStopsWaiting(t *testing.T) {
	release := make(chan struct{})
	srv, _ := countingServer(t, func(http.ResponseWriter, *http.Request) { <-release })
	t.Cleanup(func() { close(release) }) // before srv.Close, which waits for the handler
	tr := newTransport(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("RoundTrip = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RoundTrip still waiting 10 s after the request was cancelled")
	}
}

func TestDialFailureIsADialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	tr := newTransport(t)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+addr+"/", nil)
	_, err = tr.RoundTrip(req)
	// reverse_proxy retries another upstream only on a DialError.
	var de reverseproxy.DialError
	if !errors.As(err, &de) {
		t.Fatalf("RoundTrip = %v (%T), want a reverseproxy.DialError", err, err)
	}
}

func TestRequestsWithABodyOrNotIdempotentTakeTheStandardTransport(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s", r.Method, b)
	})
	tr := newTransport(t)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, strings.NewReader("payload"))
	if plain(req) {
		t.Fatal("a request with a body should not take the fast path")
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "POST payload" {
		t.Fatalf("got %q, want %q", b, "POST payload")
	}
	del, _ := http.NewRequestWithContext(context.Background(), http.MethodDelete, srv.URL, nil)
	if plain(del) {
		t.Fatal("a DELETE should not take the fast path (it must not be replayed on a stale connection)")
	}
	up, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	up.Header.Set("Upgrade", "websocket")
	if plain(up) {
		t.Fatal("an Upgrade request should not take the fast path")
	}
}

func TestConfigurationsTheFastPathCannotServeFallBack(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	for name, tr := range map[string]*Transport{
		"tls":      {HTTPTransport: reverseproxy.HTTPTransport{TLS: new(reverseproxy.TLSConfig)}},
		"h2c":      {HTTPTransport: reverseproxy.HTTPTransport{Versions: []string{"h2c", "2"}}},
		"max_conn": {HTTPTransport: reverseproxy.HTTPTransport{MaxConnsPerHost: 4}},
		"timeouts": {HTTPTransport: reverseproxy.HTTPTransport{ResponseHeaderTimeout: caddy.Duration(time.Second)}},
	} {
		if err := tr.Provision(ctx); err != nil {
			t.Fatalf("%s: Provision: %v", name, err)
		}
		if tr.fast {
			t.Errorf("%s: the fast path is on; want the standard transport for everything", name)
		}
		_ = tr.Cleanup()
	}
}
